"""How edge-aware is a trained JBU? Per stage, how far its filters move from the spatial Gaussian.

A JBU stage's filter at pixel ``p`` is ``W = normalise(softmax_t(tau <K[p+t], K[p]>) * Gauss_t)``
plus a learned fixup ``0.1 * fixup(cat[W, G])`` (``mmfeatup/models/upsamplers/jbu_stage.py``).
Without a range term (``tau -> 0`` or constant keys) ``W`` is the normalised Gaussian and the stage
is a fixed blur; an edge-aware stage moves kernel mass away from the taps across an image edge.
Printed per stage, over the photos' pixels (and over their edge pixels: the 10% with the largest
image gradient at the stage's resolution):

- ``range TV``: total variation distance ``0.5 * sum_t |W - Gauss_norm|`` of the range x spatial
  filter from the spatial one (0: a fixed blur; 1: disjoint);
- ``fixup TV``: ``0.5 * sum_t |0.1 * fixup|``, how much the learned fixup adds on top;
- ``tau`` and ``sigma`` (the learned temperature and spatial width).

Examples::

    python tools/analysis_tools/jbu_kernel_stats.py \\
        mmfeatup/weights/jbu_efficientnet-lite0-s16_photos-128.pth
    python tools/analysis_tools/jbu_kernel_stats.py init \\
        work_dirs/featup_s16_seed{0,1,2}/upsampler.pth --images data/photos/heldout --size 224
"""
from __future__ import annotations

import argparse
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import Tensor

#: The repository's held-out photos (``make photos``), the default wherever the tool runs from.
HELDOUT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'data', 'photos',
                   'heldout')
#: The share of pixels (largest image gradient) that count as edge pixels.
EDGE_QUANTILE = 0.9


def _edge_mask(guidance: Tensor) -> Tensor:
    """``[B, H, W]`` bool: the pixels whose guidance gradient magnitude is in the top 10%
    (and not zero: in a mostly flat image, the pixels with any gradient), widened by one
    pixel: a forward difference marks only the pixel before a step, and the filters on both
    sides of it straddle the edge."""
    dy = torch.zeros_like(guidance)
    dx = torch.zeros_like(guidance)
    dy[..., :-1, :] = guidance[..., 1:, :] - guidance[..., :-1, :]
    dx[..., :, :-1] = guidance[..., :, 1:] - guidance[..., :, :-1]
    magnitude = (dy.square() + dx.square()).sum(1).sqrt()
    threshold = torch.quantile(magnitude.flatten(1).double(), EDGE_QUANTILE, dim=1)
    mask = (magnitude >= threshold.to(magnitude.dtype).view(-1, 1, 1)) & (magnitude > 0)
    return torch.nn.functional.max_pool2d(mask[:, None].float(), 3, stride=1, padding=1)[:, 0] > 0


@torch.no_grad()
def stage_stats(upsampler: torch.nn.Module, guidance: Tensor,
                source_size: Sequence[int]) -> List[Dict[str, Union[float, str]]]:
    """Filter statistics of every stage a ``JBUStack`` runs for one guidance image.

    Args:
        upsampler (nn.Module): a ``JBUStack`` (its stages have ``normalized_kernel``,
            ``spatial_kernel`` and ``kernel``), in eval mode.
        guidance (Tensor): ``[1, G, H, W]``, the guidance at the output size.
        source_size (Sequence[int]): the low-res feature size the stack starts from.

    Returns:
        list[dict]: per stage the floats ``range_tv``, ``range_tv_edges``, ``fixup_tv``,
        ``fixup_tv_edges``, ``tau``, ``sigma`` and the stage's output ``size`` (a string
        ``'HxW'``).

    Raises:
        ValueError: not a batch of one guidance image, a module without JBU stages, more
            stages than the stack has, or a flat image.
    """
    from mmfeatup.models.upsamplers.base import resize_guidance
    if guidance.dim() != 4 or guidance.shape[0] != 1:
        raise ValueError(f'guidance: one image [1, G, H, W], got {tuple(guidance.shape)}')
    if not hasattr(upsampler, 'stage_sizes') or not hasattr(upsampler, 'stage'):
        raise ValueError(f'upsampler: {type(upsampler).__name__} has no JBU stages')
    rows = []
    sizes = upsampler.stage_sizes(tuple(source_size), tuple(guidance.shape[-2:]))
    if len(sizes) > upsampler.num_stages and not upsampler.reuse_last_stage:
        raise ValueError(f'upsampler: {source_size} -> {tuple(guidance.shape[-2:])} needs '
                         f'{len(sizes)} stages, the stack has {upsampler.num_stages} (the '
                         f'command line: --upsampler-options num_stages={len(sizes)})')
    for index, size in enumerate(sizes):
        stage = upsampler.stage(index)
        small = resize_guidance(guidance, size, mode='area')
        kernel = stage.normalized_kernel(small)
        spatial = stage.spatial_kernel()
        spatial = spatial / spatial.sum()
        range_tv = 0.5 * (kernel - spatial).abs().sum(1)[0]
        fixup_tv = (0.5 * (stage.kernel(small) - kernel).abs().sum(1)[0] if stage.has_fixup
                    else torch.zeros_like(range_tv))
        edges = _edge_mask(small)[0]
        if not bool(edges.any()):
            raise ValueError(f'guidance: no edge pixels at stage {index + 1} ({size}): a flat '
                             'image')
        rows.append(dict(size=f'{size[0]}x{size[1]}', range_tv=float(range_tv.mean()),
                         range_tv_edges=float(range_tv[edges].mean()),
                         fixup_tv=float(fixup_tv.mean()),
                         fixup_tv_edges=float(fixup_tv[edges].mean()),
                         tau=float(stage.temperature()), sigma=float(stage.sigma_spatial)))
    return rows


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line (``argv``: None for ``sys.argv``)."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('checkpoints', nargs='+', help='JBUStack weights (any form the '
                        'project reads: upsampler.pth, a Runner iter_N.pth, the authors\'), or '
                        '"init" for an untrained stack (torch seed 0): a reference, one random '
                        'draw of the initialisation, not a training run\'s own start')
    parser.add_argument('--images', default=HELDOUT,
                        help='folder of photos (default: the repository\'s held-out photos)')
    parser.add_argument('--size', type=int, default=224, help='image size (centre square)')
    parser.add_argument('--featurizer', default='efficientnet_lite0_s16',
                        help='featurizer preset: its stride gives the stack\'s source size and '
                        'its normalisation the guidance')
    parser.add_argument('--upsampler-options', nargs='+', action=DictAction, default={},
                        help='JBUStack options for weights of another shape, e.g. num_stages=5 '
                        'radius=2 key_dim=16')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[List[Dict[str, Union[float, str]]]]:
    """Print one table per checkpoint.

    Args:
        argv (Sequence[str], optional): the command line; None for ``sys.argv``.

    Returns:
        list[list[dict]]: per checkpoint, per stage, :func:`stage_stats` averaged over the
        images (``tau``, ``sigma`` and ``size`` as they are).
    """
    args = parse_args(argv)
    import mmfeatup.models  # noqa: F401  (registers featurizers and upsamplers)
    from mmfeatup.apis import load_eval_images
    from mmfeatup.models.featurizers import build_featurizer
    from mmfeatup.registry import build_upsampler

    featurizer = build_featurizer(args.featurizer).eval()
    images = load_eval_images(args.images, args.size)
    with torch.no_grad():  # what every checkpoint is measured on: guidance and source size
        inputs = [(featurizer.normalize(image[None]), tuple(featurizer(image[None]).shape[-2:]))
                  for image in images]
    results = []
    for path in args.checkpoints:
        # the stages' filters depend on the image only: any channel count takes them
        torch.manual_seed(0)
        checkpoint = None if path == 'init' else path
        upsampler = build_upsampler(
            dict(type='JBUStack', checkpoint=checkpoint, **args.upsampler_options),
            in_channels=1, guidance_channels=3).eval()
        per_image = [stage_stats(upsampler, guidance, source) for guidance, source in inputs]
        means = []
        for stage, first in enumerate(per_image[0]):  # tau, sigma, size: the same per image
            means.append({key: value if not isinstance(value, float) or key in ('tau', 'sigma')
                          else sum(rows[stage][key] for rows in per_image) / len(per_image)
                          for key, value in first.items()})
        results.append(means)
        print(f'\n{path} ({len(images)} images at {args.size} px, {args.featurizer})')
        print('| stage | size | tau | sigma | range TV (all / edge px) '
              '| fixup TV (all / edge px) |')
        print('|---|---|---:|---:|---:|---:|')
        for i, row in enumerate(means):
            print(f'| {i + 1} | {row["size"]} | {row["tau"]:.3f} | {row["sigma"]:.3f} | '
                  f'{row["range_tv"]:.3f} / {row["range_tv_edges"]:.3f} | '
                  f'{row["fixup_tv"]:.3f} / {row["fixup_tv_edges"]:.3f} |')
    return results


if __name__ == '__main__':
    main()
