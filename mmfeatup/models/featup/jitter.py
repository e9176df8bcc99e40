"""FeatUp's view jitter: random flip, zoom and padded crop, applied identically
to an image and to features at the image's resolution."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class JitterParams:
    """One sampled view.

    Attributes:
        flip (bool): mirror horizontally (after cropping).
        zoom (float): scale factor >= 1 applied to the padded map.
        top (int): crop row offset inside the zoomed padded map.
        left (int): crop column offset inside the zoomed padded map.
        max_pad (int): reflect padding added on every side before zooming.
    """

    flip: bool
    zoom: float
    top: int
    left: int
    max_pad: int


def _zoomed_size(size: int, max_pad: int, zoom: float) -> int:
    return int(math.floor((size + 2 * max_pad) * zoom))


def sample_jitter(height: int,
                  width: int,
                  max_pad: int = 20,
                  max_zoom: float = 2.0,
                  use_flips: bool = True,
                  generator: Optional[torch.Generator] = None) -> JitterParams:
    """Sample a view: flip with p=0.5, zoom ~ U(1, max_zoom) with p=0.5, then a
    crop of ``height x width`` at a uniform offset of the zoomed padded map.

    Args:
        height (int): image height.
        width (int): image width.
        max_pad (int): reflect padding on each side. Default: 20.
        max_zoom (float): largest zoom (>= 1). Default: 2.0.
        use_flips (bool): allow horizontal flips. Default: True.
        generator (torch.Generator, optional): RNG for deterministic views.

    Returns:
        JitterParams: the view.
    """
    if max_pad < 0 or max_zoom < 1:
        raise ValueError(f'need max_pad >= 0 and max_zoom >= 1, got {max_pad}, {max_zoom}')
    u = torch.rand(4, generator=generator).tolist()
    flip = use_flips and u[0] > 0.5
    zoom = 1.0 + u[2] * (max_zoom - 1.0) if u[1] > 0.5 else 1.0
    span_h = _zoomed_size(height, max_pad, zoom) - height + 1
    span_w = _zoomed_size(width, max_pad, zoom) - width + 1
    top = int(torch.randint(0, span_h, (), generator=generator))
    left = int(torch.randint(0, span_w, (), generator=generator))
    return JitterParams(flip=flip, zoom=zoom, top=top, left=left, max_pad=int(max_pad))


def apply_jitter(x: Tensor, params: JitterParams) -> Tensor:
    """Apply a view to an image or to image-sized features.

    Args:
        x (Tensor): ``[B, C, H, W]``; H and W must exceed ``params.max_pad``
            (reflect padding).
        params (JitterParams): the view.

    Returns:
        Tensor: ``[B, C, H, W]``, the same view of ``x``.
    """
    height, width = x.shape[-2:]
    pad = params.max_pad
    if pad >= min(height, width):
        raise ValueError(f'apply_jitter: max_pad={pad} must be smaller than the map '
                         f'{(height, width)} (reflect padding)')
    out = F.pad(x, [pad] * 4, mode='reflect') if pad > 0 else x
    if params.zoom > 1.0:
        # by scale factor, as the authors: the size is floor(n * zoom) (_zoomed_size) and the
        # sampling grid is exactly 1/zoom; resizing to that size instead would sample with
        # n / floor(n * zoom), a slightly different view unless n * zoom is a whole number
        out = F.interpolate(out, scale_factor=params.zoom, mode='bilinear', align_corners=False)
    out = out[:, :, params.top:params.top + height, params.left:params.left + width]
    if params.flip:
        out = torch.flip(out, dims=[3])
    return out
