"""Data transforms of mmfeatup, registered in MMSegmentation's ``TRANSFORMS``."""
from .check_seg_map import CheckSegMap, check_seg_map_shape, check_seg_map_values

__all__ = ['CheckSegMap', 'check_seg_map_shape', 'check_seg_map_values']
