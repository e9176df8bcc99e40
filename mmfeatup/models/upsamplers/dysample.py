"""DySample: learning to upsample by learning to sample (Liu et al., ICCV 2023)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from .base import BaseUpsampler, Size
from .pixel_shuffle import checked_scale


@UPSAMPLERS.register_module(name='DySample')
class DySampleUpsampler(BaseUpsampler):
    """DySample, the "LP" style (linear offsets, then pixel shuffle).

    Offsets ``O = 0.25 * Linear(x)`` (static scope) or
    ``O = 0.5 * sigmoid(Linear'(x)) * Linear(x)`` (dynamic scope), ``2 g s^2``
    channels pixel-shuffled to ``[B, 2g, sh, sw]`` (source-pixel units, per
    channel group); each output point ``P`` samples the source bilinearly
    (``grid_sample``, border padding) at its own position in the source plus
    its offset. Zero-initialised offsets make an untrained module bilinear
    upsampling, as in the paper.

    Ratios: ``scale_factor`` (int, default 2) sets the design ratio ``s``. Other
    output sizes, including non-integer and unequal ratios, are served by
    resizing the offset field bilinearly to the output grid (a documented
    generalisation; exact DySample when the ratio equals ``s``).

    Args:
        in_channels (int): feature channels ``C`` (kept); divisible by ``groups``.
        guidance_channels (int): unused. Default: 3.
        scale_factor (int, optional): design ratio ``s``. Default: None (= 2).
        groups (int): offset groups ``g``. Default: 4.
        dyscope (bool): dynamic scope factor. Default: False.
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, groups: int = 4,
                 dyscope: bool = False) -> None:
        scale = checked_scale(scale_factor, type(self).__name__)
        super().__init__(in_channels, guidance_channels, scale)
        if groups <= 0 or in_channels % groups:
            raise ValueError(f'groups must divide in_channels={in_channels}, got {groups}')
        self.scale = scale
        self.groups = groups
        out = 2 * groups * scale * scale
        self.offset = nn.Conv2d(in_channels, out, 1)
        nn.init.normal_(self.offset.weight, std=0.001)
        nn.init.zeros_(self.offset.bias)
        self.scope = nn.Conv2d(in_channels, out, 1, bias=False) if dyscope else None
        if self.scope is not None:
            nn.init.zeros_(self.scope.weight)

    def offsets(self, source: Tensor, size: Size) -> Tensor:
        """Sampling offsets in source pixels, ``[B, g, 2 (dx, dy), H, W]``."""
        raw = self.offset(source)
        raw = raw * (0.5 * torch.sigmoid(self.scope(source)) if self.scope is not None else 0.25)
        field = F.pixel_shuffle(raw, self.scale)  # [B, 2g, sh, sw]
        if tuple(field.shape[-2:]) != tuple(size):
            field = F.interpolate(field, size=size, mode='bilinear', align_corners=False)
        return field.view(source.shape[0], self.groups, 2, *size)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        batch, channels, height, width = source.shape
        offsets = self.offsets(source, size)
        dtype, device = source.dtype, source.device
        ys = (torch.arange(size[0], dtype=dtype, device=device) + 0.5) * (height / size[0])
        xs = (torch.arange(size[1], dtype=dtype, device=device) + 0.5) * (width / size[1])
        x = xs.view(1, 1, 1, -1) + offsets[:, :, 0]  # [B, g, H, W], source pixels
        y = ys.view(1, 1, -1, 1) + offsets[:, :, 1]
        grid = torch.stack((2 * x / width - 1, 2 * y / height - 1), dim=-1)
        grid = grid.view(batch * self.groups, size[0], size[1], 2)
        grouped = source.reshape(batch * self.groups, channels // self.groups, height, width)
        out = F.grid_sample(grouped, grid, mode='bilinear', padding_mode='border',
                            align_corners=False)
        return out.view(batch, channels, *size)
