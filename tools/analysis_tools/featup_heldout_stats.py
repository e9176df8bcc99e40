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
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
from typing import Dict, List


def parse_args() -> argparse.Namespace:
    """The command line."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the training config the checkpoints came from')
    parser.add_argument('checkpoints', nargs='+', help='upsampler.pth of each seed')
    parser.add_argument('--min-gain', type=float, default=0.05)
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
        runs.append(scores)
        print(f'{path}: rel-MSE {mean_std(scores["rel_mse"])[0]:.4f} '
              f'({len(scores["rel_mse"])} photos)', flush=True)

    def cell(key: str) -> str:
        mean, std = mean_std([mean_std(run[key])[0] for run in runs])
        return f'{mean:.4f}' + (f' ± {std:.4f}' if len(runs) > 1 and 'bilinear' not in key else '')

    label = f'{cfg.model.upsampler.get("type", "upsampler")} ({len(runs)} seeds)'
    print('\n| upsampler | held-out rel-MSE ↓ | cosine ↑ |\n|---|---|---|')
    print(f'| bilinear | {cell("bilinear_rel_mse")} | {cell("bilinear_cos")} |')
    print(f'| {label} | {cell("rel_mse")} | {cell("cos")} |')
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
                           scores=runs, stats=stats), f, indent=1)


if __name__ == '__main__':
    main()
