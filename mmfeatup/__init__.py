"""mmfeatup: FeatUp feature upsamplers for the OpenMMLab segmentation stack.

Importing this package has no global side effects: it does not reseed RNGs,
print, load the compiled extension or import mmseg. Sub-packages are imported
on demand (``mmfeatup.ops``, ``mmfeatup.models``, ...).
"""
from .version import __version__

__all__ = ['__version__']
