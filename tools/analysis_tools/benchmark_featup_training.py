"""Train FeatUp JBU upsamplers on the offline photos and compare them with
interpolation on held-out multi-view reconstruction (docs/benchmarks.md section 2).

Usage::

    python tools/analysis_tools/benchmark_featup_training.py \\
        [--featurizer efficientnet_lite0_s16] [--upsampler JBUStack] [--seeds 0 1 2] \\
        [--iters 100] [--crop 128] [--eval-crop 224] [--eval-views 10] [--out results/x.json] \\
        [--work-dir work_dirs/featup_s16]

Every trained model and every baseline is scored on the SAME held-out views
(``--eval-seed``); training seeds only change initialisation, crops and views.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
from typing import Any, Dict, List


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--featurizer', default='efficientnet_lite0_s16',
                        help='featurizer preset (ChannelNorm is added)')
    parser.add_argument('--upsampler', default='JBUStack', help='UPSAMPLERS type to train')
    parser.add_argument('--downsampler', default='simple', choices=['simple', 'attention'])
    parser.add_argument('--train-dir', default='data/photos/train')
    parser.add_argument('--heldout-dir', default='data/photos/heldout')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--iters', type=int, default=100)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--crop', type=int, default=128, help='training crop')
    parser.add_argument('--n-jitters', type=int, default=5)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--eval-crop', type=int, default=224, help='held-out centre crop')
    parser.add_argument('--eval-views', type=int, default=10)
    parser.add_argument('--eval-seed', type=int, default=0)
    parser.add_argument('--no-channel-norm', action='store_true')
    parser.add_argument('--out', default=None, help='write all numbers as JSON')
    parser.add_argument('--work-dir', default=None,
                        help='save each trained upsampler as WORK_DIR/seed<N>/upsampler.pth')
    return parser.parse_args()


def format_mean_std(values: List[float]) -> str:
    """One value as it is, several as ``mean ± std`` (:func:`mmfeatup.benchmark.mean_std`)."""
    from mmfeatup.benchmark import mean_std
    if len(values) == 1:
        return f'{values[0]:.4f}'
    return '{:.4f} ± {:.4f}'.format(*mean_std(values))


def main() -> None:
    args = parse_args()
    import torch

    import mmfeatup.models  # noqa: F401
    from mmfeatup.apis import evaluate_reconstruction, train_upsampler
    from mmfeatup.benchmark import Stopwatch
    from mmfeatup.models.featurizers import build_featurizer

    featurizer = build_featurizer(args.featurizer, channel_norm=not args.no_channel_norm)
    evaluate = dict(featurizer=featurizer, image_dir_or_list=args.heldout_dir,
                    n_views=args.eval_views, seed=args.eval_seed, crop_size=args.eval_crop)
    rows: Dict[str, Dict[str, Any]] = {}
    for name in ('bilinear', 'bicubic'):
        result = evaluate_reconstruction(name, **evaluate)
        rows[name] = dict(rel_mse=[result['rel_mse']], cos=[result['cos']], seconds=[0.0])
        print(f'{name}: rel_mse {result["rel_mse"]:.4f} cos {result["cos"]:.4f}', flush=True)
    trained = f'{args.upsampler} (trained)'
    rows[trained] = dict(rel_mse=[], cos=[], seconds=[], untrained_rel_mse=[])
    for seed in args.seeds:
        with Stopwatch() as watch:
            upsampler = train_upsampler(
                dict(type=args.upsampler), featurizer, args.train_dir, iters=args.iters,
                seed=seed, batch_size=args.batch_size, crop_size=args.crop, lr=args.lr,
                log_interval=max(1, args.iters // 10), n_jitters=args.n_jitters,
                downsampler=dict(type=args.downsampler),
                work_dir=osp.join(args.work_dir, f'seed{seed}') if args.work_dir else None)
        seconds = watch.seconds
        result = evaluate_reconstruction(upsampler, **evaluate)
        rows[trained]['rel_mse'].append(result['rel_mse'])
        rows[trained]['cos'].append(result['cos'])
        rows[trained]['seconds'].append(seconds)
        print(f'seed {seed}: rel_mse {result["rel_mse"]:.4f} cos {result["cos"]:.4f} '
              f'train {seconds:.0f}s', flush=True)
        torch.manual_seed(seed)
        untrained = train_upsampler(dict(type=args.upsampler), featurizer, args.train_dir,
                                    iters=0, seed=seed)
        rows[trained]['untrained_rel_mse'].append(
            evaluate_reconstruction(untrained, **evaluate)['rel_mse'])
    print()
    print('| upsampler | held-out rel. MSE ↓ | cosine ↑ | train time (s) |')
    print('|---|---|---|---|')
    for name, row in rows.items():
        print(f'| {name} | {format_mean_std(row["rel_mse"])} | {format_mean_std(row["cos"])} | '
              f'{format_mean_std(row["seconds"]) if any(row["seconds"]) else "-"} |')
    untrained = format_mean_std(rows[trained]['untrained_rel_mse'])
    print(f'| {args.upsampler} (untrained init) | {untrained} | | |')
    if args.out:
        os.makedirs(osp.dirname(args.out) or '.', exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(args=vars(args), rows=rows), f, indent=1)


if __name__ == '__main__':
    main()
