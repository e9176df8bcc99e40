"""Quality by FeatUp's held-out multi-view feature reconstruction.

Every upsampler with parameters is trained with :func:`mmfeatup.apis.train_upsampler`
with the same budget for every seed, then scored with
:func:`mmfeatup.apis.evaluate_reconstruction` on the held-out photos (the same views
for every upsampler); parameter-free ones are scored once.
"""
from __future__ import annotations

import os.path as osp
import subprocess
import sys
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

from mmfeatup.registry import build_upsampler

from .specs import REPO, count_parameters, for_seed, spec_of, upsampler_cfg
from .timer import Progress, Stopwatch


def ensure_photos(photo_root: str) -> Tuple[str, str]:
    """The photo folders; runs ``tools/dataset_converters/collect_photos.py`` when missing.

    Args:
        photo_root (str): the folder with ``train/`` and ``heldout/``.

    Returns:
        tuple[str, str]: ``(train_dir, heldout_dir)``.
    """
    train, heldout = osp.join(photo_root, 'train'), osp.join(photo_root, 'heldout')
    if not (osp.isdir(train) and osp.isdir(heldout)):
        script = osp.join(REPO, 'tools', 'dataset_converters', 'collect_photos.py')
        subprocess.run([sys.executable, script, '--out', photo_root], check=True)
    return train, heldout


def run_recon(names: Sequence[str], seeds: Sequence[int], iters: int, photo_root: str,
              featurizer: Union[str, Dict[str, Any]], crop: int, views: int, batch: int,
              stride: int, progress: Progress, results: Optional[Dict[str, Dict[str, Any]]] = None,
              on_update: Callable[[], None] = lambda: None,
              variants: Optional[Dict[str, Dict[str, Any]]] = None,
              lr: float = 1e-3) -> Dict[str, Dict[str, Any]]:
    """Train (same budget, same seeds, NAdam ``lr``) and score every upsampler.

    Args:
        names (Sequence[str]): the rows (registered names or ``--variant`` labels).
        seeds (Sequence[int]): training seeds (parameter-free upsamplers: the first only).
        iters (int): training steps per seed.
        photo_root (str): the photos (:func:`ensure_photos`).
        featurizer (str | dict): the frozen featurizer (preset name or config).
        crop (int): image side of training and evaluation.
        views (int): held-out views per image.
        batch (int): images per training step.
        stride (int): the featurizer's stride (features: ``crop // stride``).
        progress (Progress): stepped once per upsampler.
        results (dict, optional): filled in place (a fresh dict when None).
        on_update (callable): called after every upsampler (saves partial results).
        variants (dict, optional): the ``--variant`` configs by label.
        lr (float): the learning rate. Default: 1e-3.

    Returns:
        dict: per name ``rel_mse``, ``cos``, ``seconds``, ``seeds`` (lists, one entry per
        seed), ``num_images``, ``trained`` and, on failure, ``error``.
    """
    from mmfeatup.apis import evaluate_reconstruction, train_upsampler
    train_dir, heldout_dir = ensure_photos(photo_root)
    grid = crop // stride
    results = {} if results is None else results
    for name in names:
        entry: Dict[str, Any] = dict(rel_mse=[], cos=[], seconds=[], seeds=[])
        try:
            cfg = upsampler_cfg(spec_of(name, variants), (grid, grid), (crop, crop))
            first = build_upsampler(for_seed(cfg, seeds[0]), in_channels=8)
            has_params = count_parameters(first) > 0
            run_seeds = list(seeds) if has_params else list(seeds)[:1]
            for seed in run_seeds:
                with Stopwatch() as watch:
                    model = train_upsampler(for_seed(cfg, seed), featurizer, train_dir,
                                            iters=iters if has_params else 0, seed=seed,
                                            batch_size=batch, crop_size=crop, lr=lr)
                scores = evaluate_reconstruction(model, featurizer, heldout_dir, n_views=views,
                                                 seed=0, crop_size=crop)
                entry['rel_mse'].append(float(scores['rel_mse']))
                entry['cos'].append(float(scores['cos']))
                entry['seconds'].append(watch.seconds)
                entry['seeds'].append(seed)
                entry['num_images'] = scores.get('num_images')
        except Exception as error:  # noqa: BLE001 - report, keep benchmarking the others
            entry['error'] = f'{type(error).__name__}: {error}'[:200]
        entry['trained'] = bool(entry['seeds']) and has_params if 'error' not in entry else None
        results[name] = entry
        progress.step(f'recon {name}')
        on_update()
    return results
