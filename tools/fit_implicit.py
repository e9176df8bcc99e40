"""Fit implicit FeatUp to one image and save its features at any resolution.

Usage::

    python tools/fit_implicit.py IMAGE [--backbone efficientnet_lite0_s16] [--size 224]
        [--steps 300] [--views 64] [--views-per-step 4] [--output-size H W]
        [--eval-views 10] [--out results/implicit/NAME]

Writes ``OUT.pt`` (``dict(features=[1, C, H, W], info=...)``) and, when
:mod:`mmfeatup.utils.visualization` is available, ``OUT.png`` (image, low-res
features, implicit features; one shared PCA to RGB).
"""
from __future__ import annotations

import argparse
import os
import os.path as osp


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Fit implicit FeatUp to one image')
    parser.add_argument('image', help='image file (jpg/png)')
    parser.add_argument('--backbone', default='efficientnet_lite0_s16',
                        help='featurizer preset or timm model name')
    parser.add_argument('--size', type=int, default=224,
                        help='shorter side of the fitted image; then a centre crop of this size '
                        '(0: keep the image as is)')
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--views', type=int, default=64, help='jittered target views')
    parser.add_argument('--views-per-step', type=int, default=4)
    parser.add_argument('--pca-dim', type=int, default=128)
    parser.add_argument('--downsampler', default='attention', choices=['attention', 'simple'])
    parser.add_argument('--output-size', type=int, nargs=2, metavar=('H', 'W'),
                        help='resolution of the saved features (default: the image size)')
    parser.add_argument('--eval-views', type=int, default=10,
                        help='held-out views for the reconstruction error (0: skip)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-channel-norm', action='store_true')
    parser.add_argument('--out', default=None, help='output path without extension')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import torch
    import torch.nn.functional as F

    import mmfeatup.models  # noqa: F401
    from mmfeatup.apis import fit_implicit, query_implicit
    from mmfeatup.datasets import load_image01, resize_shorter
    from mmfeatup.models.featurizers import FEATURIZER_PRESETS, build_featurizer

    image = load_image01(args.image)
    if args.size > 0:
        image = resize_shorter(image, args.size)
        top = (image.shape[-2] - args.size) // 2
        left = (image.shape[-1] - args.size) // 2
        image = image[:, top:top + args.size, left:left + args.size]
    overrides = {} if args.no_channel_norm else dict(channel_norm=True)
    if args.backbone in FEATURIZER_PRESETS:
        featurizer = build_featurizer(args.backbone, **overrides)
    else:
        featurizer = build_featurizer(dict(backbone=args.backbone, **overrides))
    model, info = fit_implicit(image, featurizer, steps=args.steps, n_views=args.views,
                               views_per_step=args.views_per_step, pca_dim=args.pca_dim,
                               downsampler=dict(type=args.downsampler), seed=args.seed,
                               eval_views=args.eval_views,
                               log_interval=max(1, args.steps // 10))
    size = tuple(args.output_size) if args.output_size else tuple(image.shape[-2:])
    features = query_implicit(model, size)
    out = args.out or osp.join('results', 'implicit', osp.splitext(osp.basename(args.image))[0])
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    info = {k: v for k, v in info.items() if k != 'losses'} | dict(
        steps=args.steps, views=args.views, views_per_step=args.views_per_step,
        first_loss=info['losses'][0] if info['losses'] else None,
        last_loss=info['losses'][-1] if info['losses'] else None)
    torch.save(dict(features=features, info=info, image=args.image), out + '.pt')
    print(f'saved {out}.pt: features {tuple(features.shape)}; fit {info["seconds"]:.1f}s')
    if args.eval_views:
        print(f'held-out views ({args.eval_views}): rel_mse {info["rel_mse"]:.4f} '
              f'(bilinear {info["bilinear_rel_mse"]:.4f}), cos {info["cos"]:.4f} '
              f'(bilinear {info["bilinear_cos"]:.4f})')
    try:
        from mmfeatup.utils.visualization import pca_to_rgb, save_feature_figure
    except ImportError:
        return
    with torch.no_grad():
        lr = featurizer(image[None])
    lr_big = F.interpolate(lr, size=size, mode='nearest')
    (lr_rgb, hr_rgb), _ = pca_to_rgb([lr_big, features])
    shown = F.interpolate(image[None], size=size, mode='bilinear', align_corners=False)[0]
    save_feature_figure([('image', shown.clamp(0, 1)), (f'features {tuple(lr.shape[-2:])}', lr_rgb),
                         (f'implicit FeatUp {size}', hr_rgb)], out + '.png')
    print(f'saved {out}.png')


if __name__ == '__main__':
    main()
