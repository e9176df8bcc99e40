"""Datasets of mmfeatup, registered in MMSegmentation's ``DATASETS``.

Building from mmseg's registry imports ``mmseg.datasets`` (which needs
``mmcv.ops``): :mod:`mmfeatup.registry`, imported first, installs the stack shims.
"""
from mmfeatup import registry  # noqa: F401  (first: installs the stack shims)

from .ade_demo import is_ade_demo, make_ade_demo  # noqa: E402
from .checked_seg import (CheckedADE20KDataset, CheckedBaseSegDataset,  # noqa: E402
                          SegDataCheckMixin)
from .image_folder import (ImageFolderDataset, list_images, load_image01,  # noqa: E402
                           resize_shorter)
from .transforms import CheckSegMap  # noqa: E402

__all__ = ['make_ade_demo', 'is_ade_demo', 'ImageFolderDataset', 'list_images', 'load_image01',
           'resize_shorter', 'SegDataCheckMixin', 'CheckedADE20KDataset', 'CheckedBaseSegDataset',
           'CheckSegMap']
