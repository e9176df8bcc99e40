"""Necks registered in MMSegmentation's ``MODELS``."""
from .featup_neck import FeatUpNeck

__all__ = ['FeatUpNeck']
