"""Datasets of mmfeatup, registered in MMSegmentation's ``DATASETS``."""
from .ade_demo import is_ade_demo, make_ade_demo
from .image_folder import ImageFolderDataset, list_images, load_image01, resize_shorter

__all__ = ['make_ade_demo', 'is_ade_demo', 'ImageFolderDataset', 'list_images', 'load_image01', 'resize_shorter']
