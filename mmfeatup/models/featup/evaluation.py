"""Held-out multi-view reconstruction error: the parameter-free quality measure.

For each view (deterministic jitter from a seeded generator) the backbone's
features of the jittered image are compared with the same jitter applied to the
upsampled features, brought back to the backbone grid by a FIXED average over
each stride window (:func:`area_downsample`), so no learned downsampler can
favour one upsampler.

Reported per image (averaged over views):

* ``rel_mse``: ``sum (pred - target)^2 / sum target^2`` (scale-free);
* ``cos``: mean cosine similarity over the grid cells.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .downsamplers import area_downsample
from .jitter import apply_jitter, sample_jitter

UpsampleFn = Callable[[Tensor, Tensor], Tensor]


def view_errors(pred: Tensor, target: Tensor) -> Dict[str, Tensor]:
    """Per-image ``rel_mse`` and ``cos`` of ``pred`` vs ``target`` ``[B, C, h, w]``."""
    rel = (pred - target).square().flatten(1).sum(1) / target.square().flatten(1).sum(
        1).clamp_min(1e-12)
    cos = F.cosine_similarity(pred, target, dim=1, eps=1e-8).flatten(1).mean(1)
    return dict(rel_mse=rel, cos=cos)


@torch.no_grad()
def multiview_reconstruction(upsample_fn: UpsampleFn,
                             featurizer: nn.Module,
                             images01: Tensor,
                             n_views: int = 10,
                             generator: Optional[torch.Generator] = None,
                             max_pad: int = 20,
                             max_zoom: float = 2.0) -> Dict[str, Tensor]:
    """Multi-view reconstruction errors of one batch of images.

    Args:
        upsample_fn (Callable): ``(lr [B, C, h, w], image01 [B, 3, H, W]) -> hr``
            features at the image size ``[B, C, H, W]``.
        featurizer (nn.Module): frozen featurizer with ``.stride``.
        images01 (Tensor): ``[B, 3, H, W]`` RGB in ``[0, 1]``.
        n_views (int): jittered views per image. Default: 10.
        generator (torch.Generator, optional): RNG of the views (fix its seed
            to compare upsamplers on identical views).
        max_pad (int): jitter padding. Default: 20.
        max_zoom (float): jitter zoom. Default: 2.0.

    Returns:
        dict[str, Tensor]: ``rel_mse`` and ``cos``, each ``[B]``.
    """
    if n_views < 1:
        raise ValueError(f'n_views must be >= 1, got {n_views}')
    height, width = images01.shape[-2:]
    hr = upsample_fn(featurizer(images01), images01)
    if tuple(hr.shape[-2:]) != (height, width):
        raise ValueError(f'upsampled features {tuple(hr.shape[-2:])} must have the image size '
                         f'{(height, width)}')
    totals: Dict[str, Tensor] = {}
    for _ in range(n_views):
        params = sample_jitter(height, width, max_pad, max_zoom, generator=generator)
        target = featurizer(apply_jitter(images01, params))
        pred = area_downsample(apply_jitter(hr, params), target.shape[-2:], featurizer.stride)
        for key, value in view_errors(pred, target).items():
            totals[key] = totals.get(key, 0) + value / n_views
    return totals
