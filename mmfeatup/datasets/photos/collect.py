"""Gathering the photos, splitting them without duplicates across the split, writing them
with a manifest."""
from __future__ import annotations

import csv
import glob
import hashlib
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .images import downscale, fingerprint, is_duplicate, load_image, png_bytes
from .locate import locate
from .sources import SOURCES, SPLITS, Source, check_sources

MANIFEST_FIELDS = ('file', 'split', 'source', 'kind', 'package', 'version', 'licence',
                   'original_path', 'width', 'height', 'sha256')


def _stem(rel: str, source: Source) -> str:
    stem = osp.splitext(rel)[0]
    common = osp.commonpath([osp.dirname(f) for f in source.files]) if len(source.files) > 1 \
        else osp.dirname(rel)
    stem = osp.relpath(stem, common) if common else stem
    # drop folder levels that do not disambiguate
    parts = stem.split(os.sep)
    name = parts[-1]
    if sum(osp.splitext(osp.basename(f))[0] == name for f in source.files) > 1:
        name = '_'.join(parts)
    return re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')


@dataclass
class Item:
    file: str
    split: str
    source: Source
    version: str
    original_path: str
    array: np.ndarray
    fp: Tuple[str, np.ndarray]


def gather(sources: Sequence[Source], deb_cache: str, max_side: int, min_side: int,
           log=print) -> Tuple[List[Item], List[str]]:
    """Load every available photo; returns the items and the skipped-source notes."""
    check_sources(sources)
    items: List[Item] = []
    skipped: List[str] = []
    for source in sorted(sources, key=lambda s: (SPLITS.index(s.split), s.name)):
        found, version, missing = locate(source, deb_cache)
        if not found:
            skipped.append(f'{source.name} ({source.kind} package {source.package}): '
                           'not installed')
            continue
        if missing:
            skipped.append(f'{source.name}: {len(missing)} file(s) missing: {missing}')
        for rel in sorted(found):
            try:
                array = load_image(found[rel])
            except Exception as err:  # a corrupt or unexpected file must not stop the rest
                skipped.append(f'{source.name}: {rel}: {type(err).__name__}: {err}')
                continue
            if min(array.shape[:2]) < min_side:
                log(f'skip {source.name}:{rel}: shorter side {min(array.shape[:2])} < {min_side}')
                continue
            array = downscale(array, max_side)
            items.append(Item(f'{source.name}_{_stem(rel, source)}.png', source.split, source,
                              version, rel, array, fingerprint(array)))
    return items, skipped


def split_items(items: Sequence[Item], log=print) -> Dict[str, List[Item]]:
    """Drop within-split duplicates (earlier source wins) and cross-split ones (from train)."""
    kept: Dict[str, List[Item]] = {s: [] for s in SPLITS}
    names = [s.name for s in SOURCES]
    rank = {s.name: names.index(s.name) if s.name in names else len(names) for s in
            (i.source for i in items)}
    for split in ('heldout', 'train'):  # held-out first: a cross-split duplicate leaves train
        # within a split the source declared first in SOURCES wins, then sorted file names
        for item in sorted((i for i in items if i.split == split),
                           key=lambda i: (rank[i.source.name], i.file)):
            clash = next((k for s in SPLITS for k in kept[s] if is_duplicate(item.fp, k.fp)), None)
            if clash is not None:
                log(f'drop {split}/{item.file}: duplicate of {clash.split}/{clash.file}')
                continue
            if any(k.file == item.file for k in kept[split]):
                raise ValueError(f'file name clash: {item.file}')
            kept[split].append(item)
    return kept


def write(kept: Dict[str, List[Item]], out: str) -> List[Dict[str, str]]:
    rows = []
    for split in SPLITS:
        folder = osp.join(out, split)
        os.makedirs(folder, exist_ok=True)
        for old in glob.glob(osp.join(folder, '*.png')):  # stale files of an earlier run
            os.remove(old)
        for item in sorted(kept[split], key=lambda i: i.file):
            data = png_bytes(item.array)
            with open(osp.join(folder, item.file), 'wb') as f:
                f.write(data)
            rows.append(dict(file=f'{split}/{item.file}', split=split, source=item.source.name,
                             kind=item.source.kind, package=item.source.package,
                             version=item.version, licence=item.source.licence,
                             original_path=item.original_path, width=item.array.shape[1],
                             height=item.array.shape[0],
                             sha256=hashlib.sha256(data).hexdigest()))
    with open(osp.join(out, 'MANIFEST.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS, lineterminator='\n')
        writer.writeheader()
        writer.writerows(rows)
    return rows
