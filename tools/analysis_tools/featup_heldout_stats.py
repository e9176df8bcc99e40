"""Score trained upsamplers (one file per seed) against bilinear on the held-out photos.

Example (the three seeds of the stride-16 config, docs/benchmarks.md section 2.1)::

    python tools/analysis_tools/featup_heldout_stats.py \\
        configs/featup/jbu_efficientnet-lite0-s16_photos-128.py \\
        work_dirs/featup_s16_seed{0,1,2}/upsampler.pth --out work_dirs/featup_s16_stats.json

Each ``upsampler.pth`` (what ``tools/train_upsampler.py`` writes at the end of training; a
Runner ``iter_N.pth`` works too) is loaded into the config's trainer, which then scores the
config's held-out set exactly as its validation does (``predict``: ``eval_views`` jittered views
from ``eval_seed`` per photo, fixed area downsampler, bilinear on the same views). Prints
rel-MSE and cosine per method (mean over photos; mean ± std over seeds) and the paired
statistics of :mod:`mmfeatup.benchmark.paired_stats`.

With ``--edge-size N`` (default 224; 0 skips it) it also measures how much the upsampled
features' edges follow the photo's (:func:`mmfeatup.utils.edge_alignment`, the number
``visualize_features.py`` prints) on the same held-out photos at N px (shorter side resized,
centre square), the upsampler's output against bilinear of the same features.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple


def edge_inputs(featurizer: Any, photos: List[str], size: int) -> List[Tuple[Any, Any, float]]:
    """What the edge scores of every checkpoint share, computed once: each photo at ``size``
    px, its features and the edge alignment of their bilinear upsampling.

    Args:
        featurizer (nn.Module): the trainer's frozen featurizer.
        photos (list[str]): image paths.
        size (int): shorter side, then the centre square.

    Returns:
        list[tuple]: per photo ``(image [1, 3, H, W], features, bilinear edge alignment)``.
    """
    import torch
    import torch.nn.functional as F

    from mmfeatup.apis import load_eval_images
    from mmfeatup.utils import edge_alignment
    inputs = []
    with torch.no_grad():
        for image in load_eval_images(photos, size):
            image = image[None]
            lowres = featurizer(image)
            base = F.interpolate(lowres, size=tuple(image.shape[-2:]), mode='bilinear',
                                 align_corners=False)
            inputs.append((image, lowres, edge_alignment(image, base)))
    return inputs


def edge_scores(model: Any, inputs: List[Tuple[Any, Any, float]]) -> Dict[str, List[float]]:
    """Edge alignment of ``model.upsample`` and of bilinear on each photo.

    Args:
        model (nn.Module): a FeatUp trainer (``featurizer``, ``upsample``).
        inputs (list[tuple]): :func:`edge_inputs`.

    Returns:
        dict: ``edge`` and ``bilinear_edge``, one value per photo.
    """
    import torch

    from mmfeatup.utils import edge_alignment
    with torch.no_grad():
        edge = [edge_alignment(image, model.upsample(image, lowres))
                for image, lowres, _ in inputs]
    return dict(edge=edge, bilinear_edge=[base for _, _, base in inputs])


def parse_args() -> argparse.Namespace:
    """The command line."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the training config the checkpoints came from')
    parser.add_argument('checkpoints', nargs='+', help='upsampler.pth of each seed')
    parser.add_argument('--min-gain', type=float, default=0.05)
    parser.add_argument('--edge-size', type=int, default=224,
                        help='image size of the edge-alignment scores (0: skip them)')
    parser.add_argument('--out', default=None, help='write every per-photo score as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='overrides of the config, e.g. val_dataloader.dataset.data_root=DIR')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import mmfeatup.datasets  # noqa: F401  (registers the image-folder dataset)
    import mmfeatup.models  # noqa: F401
    from mmfeatup.benchmark import mean_std
    from mmfeatup.benchmark.paired_stats import paired_gain, verdict
    from mmfeatup.engine import load_config
    from mmfeatup.registry import MODELS
    from mmfeatup.utils.checkpoint_keys import module_state_dict
    from mmfeatup.utils.featup_checkpoint import read_checkpoint

    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model).eval()
    loader = Runner.build_dataloader(cfg.val_dataloader)
    runs: List[Dict[str, List[float]]] = []
    photos: List[str] = []
    edge_input: Optional[List[Tuple[Any, Any, float]]] = None  # the same for every checkpoint
    for path in args.checkpoints:
        # upsampler.pth, or a Runner iter_N.pth (the whole trainer: keys under 'upsampler.')
        model.upsampler.load_state_dict(module_state_dict(read_checkpoint(path), model.upsampler),
                                        strict=True)
        scores: Dict[str, List[float]] = {}
        photos = []
        with torch.no_grad():
            for batch in loader:
                photos.extend(batch.get('img_path', []) if isinstance(batch, dict) else [])
                for result in model.val_step(batch):
                    for key, value in result.items():
                        scores.setdefault(key, []).append(value)
        if args.edge_size > 0:
            if not photos:
                raise ValueError('--edge-size: the held-out loader gives no image paths')
            if edge_input is None:
                edge_input = edge_inputs(model.featurizer, photos, args.edge_size)
            scores.update(edge_scores(model, edge_input))
        runs.append(scores)
        edge = (f', edge alignment {mean_std(scores["edge"])[0]:.3f}'
                if args.edge_size > 0 else '')
        print(f'{path}: rel-MSE {mean_std(scores["rel_mse"])[0]:.4f}{edge} '
              f'({len(scores["rel_mse"])} photos)', flush=True)

    def cell(key: str, digits: int = 4) -> str:
        mean, std = mean_std([mean_std(run[key])[0] for run in runs])
        return f'{mean:.{digits}f}' + (f' ± {std:.{digits}f}'
                                       if len(runs) > 1 and 'bilinear' not in key else '')

    label = f'{cfg.model.upsampler.get("type", "upsampler")} ({len(runs)} seeds)'
    print('\n| upsampler | held-out rel-MSE ↓ | cosine ↑ |\n|---|---|---|')
    print(f'| bilinear | {cell("bilinear_rel_mse")} | {cell("bilinear_cos")} |')
    print(f'| {label} | {cell("rel_mse")} | {cell("cos")} |')
    if args.edge_size > 0:
        seed_mean = [sum(run['edge'][i] for run in runs) / len(runs) for i in range(len(photos))]
        higher = sum(ours > base for ours, base in zip(seed_mean, runs[0]['bilinear_edge']))
        print(f'\nedge alignment at {args.edge_size} px (corr. of |grad| with the photo\'s, mean '
              f'over photos): bilinear {cell("bilinear_edge", 3)}, {label} {cell("edge", 3)}; '
              f'the seed mean is higher than bilinear on {higher}/{len(photos)} photos')
    stats = paired_gain(runs[0]['bilinear_rel_mse'], [run['rel_mse'] for run in runs])
    seeds = ', '.join(f'{100 * g:.2f}%' for g in stats['seed_gains'])
    print(f'\nvs bilinear, paired over {stats["num_photos"]} photos: gain '
          f'{100 * stats["gain"]:.2f}% (per seed {seeds}), paired SE '
          f'{100 * stats["paired_se"]:.2f}%, seed SE {100 * stats["seed_se"]:.2f}%, total SE '
          f'{100 * stats["total_se"]:.2f}%, better on '
          f'{stats["photos_better"]}/{stats["num_photos"]} photos; target (gain >= '
          f'{100 * args.min_gain:.0f}%, total SE < gain/3): {verdict(stats, args.min_gain)}')
    if args.out:
        os.makedirs(osp.dirname(args.out) or '.', exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, checkpoints=args.checkpoints, photos=photos,
                           edge_size=args.edge_size, scores=runs, stats=stats), f, indent=1)


if __name__ == '__main__':
    main()
