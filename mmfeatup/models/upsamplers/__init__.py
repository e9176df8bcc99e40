"""Feature upsamplers, all registered in :data:`mmfeatup.registry.UPSAMPLERS`.

Each module below registers its classes on import. Keep one concept per file.
"""
from .base import BaseUpsampler, integer_ratio, resize_guidance, to_size
from .interpolate import BicubicUpsampler, BilinearUpsampler, NearestUpsampler

__all__ = [
    'BaseUpsampler', 'resize_guidance', 'integer_ratio', 'to_size',
    'NearestUpsampler', 'BilinearUpsampler', 'BicubicUpsampler',
]
