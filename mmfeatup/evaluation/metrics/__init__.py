"""Metrics registered in MMSegmentation's ``METRICS``."""
from .boundary_fscore import BoundaryFScore, boundary_fscore_counts, label_boundaries

__all__ = ['BoundaryFScore', 'boundary_fscore_counts', 'label_boundaries']
