"""Models of mmfeatup; importing registers them in mmseg's / mmfeatup's registries.

``import mmseg.models`` needs ``mmcv.ops``; :mod:`mmfeatup.registry`, imported
first, installs the stack shims (:func:`mmfeatup.compat.install`).
"""
from mmfeatup import registry  # noqa: F401  (first: installs the stack shims)

from . import upsamplers  # noqa: E402,F401
from . import necks, segmentors  # noqa: E402,F401
from . import featurizers  # noqa: E402,F401
from . import featup  # noqa: E402,F401

__all__ = ['upsamplers', 'necks', 'segmentors', 'featurizers', 'featup']
