"""Models of mmfeatup; importing registers them in mmseg's / mmfeatup's registries.

``import mmseg.models`` needs ``mmcv.ops``; with mmcv-lite a stub extension is
installed first (see :mod:`mmfeatup.compat`), never over a real full mmcv.
"""
from mmfeatup.compat import ensure_mmcv_ops_importable

ensure_mmcv_ops_importable()

from . import upsamplers  # noqa: E402,F401
from . import necks, segmentors  # noqa: E402,F401
from . import featurizers  # noqa: E402,F401
from . import featup  # noqa: E402,F401

__all__ = ['upsamplers', 'necks', 'segmentors', 'featurizers', 'featup']
