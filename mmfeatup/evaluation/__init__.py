"""Evaluation metrics of mmfeatup (registered in MMSegmentation's ``METRICS``)."""
from .metrics import BoundaryFScore, boundary_fscore_counts, label_boundaries

__all__ = ['BoundaryFScore', 'boundary_fscore_counts', 'label_boundaries']
