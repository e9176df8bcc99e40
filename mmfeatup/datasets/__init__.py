"""Datasets of mmfeatup, registered in MMSegmentation's ``DATASETS``.

Building from mmseg's registry imports ``mmseg.datasets`` (which needs
``mmcv.ops``): the mmcv-lite stub is installed first, as in ``mmfeatup.models``.
"""
from mmfeatup.compat import ensure_mmcv_ops_importable

ensure_mmcv_ops_importable()

from .ade_demo import is_ade_demo, make_ade_demo  # noqa: E402
from .image_folder import (ImageFolderDataset, list_images, load_image01,  # noqa: E402
                           resize_shorter)

__all__ = ['make_ade_demo', 'is_ade_demo', 'ImageFolderDataset', 'list_images', 'load_image01', 'resize_shorter']
