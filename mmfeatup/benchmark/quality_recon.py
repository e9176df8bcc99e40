"""Quality by FeatUp's held-out multi-view feature reconstruction.

Every upsampler with parameters is trained with :func:`mmfeatup.apis.train_upsampler`
with the same budget for every seed, then scored with
:func:`mmfeatup.apis.evaluate_reconstruction` on the held-out photos (the same views
for every upsampler); parameter-free ones are scored once. The same score taken during
training (``curve_every``) gives each run's learning curve, whose last point is the score.
"""
from __future__ import annotations

import os.path as osp
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from torch import nn

from .specs import REPO, for_seed, row_config
from .timer import Progress
from .workers import run_seed_jobs


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


def curve_points(iters: int, every: int) -> List[int]:
    """The steps a learning curve is scored after: every ``every`` steps and the last one.

    Args:
        iters (int): the training budget.
        every (int): the interval (0: only the last step).

    Returns:
        list[int]: increasing steps ending with ``iters`` (empty for ``iters == 0``).
    """
    points = list(range(every, iters, every)) if every > 0 else []
    return points + [iters] if iters > 0 else []


def recon_job(cfg: Dict[str, Any], seed: int, iters: int, train_dir: str, heldout_dir: str,
              featurizer: Union[str, Dict[str, Any]], crop: int, views: int, batch: int,
              lr: float, points: Sequence[int] = (),
              save_path: Optional[str] = None) -> Dict[str, Any]:
    """Train one upsampler for one seed and score it on held-out views (a benchmark job).

    Args:
        cfg (dict): the upsampler config (``{seed}`` already filled in).
        seed (int): the training seed.
        iters (int): training steps (0 for parameter-free upsamplers).
        train_dir (str): training photos.
        heldout_dir (str): held-out photos.
        featurizer (str | dict): the frozen featurizer.
        crop (int): image side of training and evaluation.
        views (int): held-out views per image (the same for every job: seed 0).
        batch (int): images per step.
        lr (float): NAdam learning rate.
        points (Sequence[int]): learning-curve steps (:func:`curve_points`).
        save_path (str, optional): write the trained upsampler there.

    Returns:
        dict: ``rel_mse``, ``cos`` (the trained model's held-out scores), ``per_image``
        (rel-MSE per held-out photo), ``seconds`` (training only), ``curve`` (``iter``,
        ``rel_mse``, ``cos`` per point, starting at step 0) and ``checkpoint`` (``save_path``).
    """
    from mmfeatup.apis import evaluate_reconstruction, load_eval_images, train_upsampler
    from mmfeatup.engine import save_upsampler
    from mmfeatup.models.featurizers import build_featurizer
    frozen = build_featurizer(featurizer).eval()
    heldout = load_eval_images(heldout_dir, crop)  # read once, scored at every curve point
    last: Dict[str, Any] = {}

    def score(module: nn.Module) -> Dict[str, float]:
        last.update(evaluate_reconstruction(module, frozen, heldout, n_views=views, seed=0,
                                            crop_size=None))
        return dict(rel_mse=last['rel_mse'], cos=last['cos'])

    model = train_upsampler(cfg, frozen, train_dir, iters=iters, seed=seed, batch_size=batch,
                            crop_size=crop, lr=lr, curve_points=points, curve_score=score)
    info = model.train_info
    if save_path is not None:
        save_upsampler(model, save_path, dict(upsampler=cfg, iters=info['iters'], seed=seed,
                                              batch_size=batch, crop_size=crop, lr=lr))
    return dict(rel_mse=float(last['rel_mse']), cos=float(last['cos']),
                per_image=last['per_image']['rel_mse'], num_images=last['num_images'],
                seconds=info['seconds'], curve=info['curve'], checkpoint=save_path)


def run_recon(names: Sequence[str], seeds: Sequence[int], iters: int, photo_root: str,
              featurizer: Union[str, Dict[str, Any]], crop: int, views: int, batch: int,
              stride: int, progress: Progress, results: Optional[Dict[str, Dict[str, Any]]] = None,
              on_update: Callable[[], None] = lambda: None,
              variants: Optional[Dict[str, Dict[str, Any]]] = None,
              lr: float = 1e-3, curve_every: int = 0, workers: int = 1,
              save_dir: Optional[str] = None) -> Dict[str, Dict[str, Any]]:
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
        progress (Progress): stepped once per finished job (upsampler and seed).
        results (dict, optional): filled in place (a fresh dict when None).
        on_update (callable): called after every job (saves partial results).
        variants (dict, optional): the ``--variant`` configs by label.
        lr (float): the learning rate. Default: 1e-3.
        curve_every (int): score held-out views every N steps too (the learning curve;
            0: after the last step only). Default: 0.
        workers (int): jobs in parallel processes (:func:`run_jobs`). Default: 1.
        save_dir (str, optional): save each trained upsampler as
            ``save_dir/NAME_seedS.pth`` (the probe reuses them).

    Returns:
        dict: per name ``rel_mse``, ``cos``, ``seconds``, ``curve``, ``per_image``,
        ``checkpoint`` (lists, one entry per seed), ``seeds``, ``num_images``, ``trained``
        and, on failure, ``error``.
    """
    train_dir, heldout_dir = ensure_photos(photo_root)
    results = {} if results is None else results
    jobs = []
    for name in names:
        entry: Dict[str, Any] = dict(rel_mse=[], cos=[], seconds=[], seeds=[], curve=[],
                                     per_image=[], checkpoint=[])
        results[name] = entry
        try:
            cfg, entry['trained'] = row_config(name, variants, crop, stride, seeds[0])
        except Exception as error:  # noqa: BLE001 - report, keep benchmarking the others
            entry.update(error=f'{type(error).__name__}: {error}'[:200], trained=None)
            continue
        for seed in (seeds if entry['trained'] else seeds[:1]):
            save_path = None if save_dir is None or not entry['trained'] else osp.join(
                save_dir, f'{name}_seed{seed}.pth')
            jobs.append(((name, seed), dict(
                cfg=for_seed(cfg, seed), seed=seed, iters=iters if entry['trained'] else 0,
                train_dir=train_dir, heldout_dir=heldout_dir, featurizer=featurizer, crop=crop,
                views=views, batch=batch, lr=lr, save_path=save_path,
                points=curve_points(iters, curve_every) if entry['trained'] else ())))
    run_seed_jobs(recon_job, jobs, seeds, workers, results,
                  ('rel_mse', 'cos', 'seconds', 'curve', 'per_image', 'checkpoint'),
                  ('num_images', ), progress, on_update, 'recon')
    return results
