"""DySample: learning to upsample by learning to sample (Liu et al., ICCV 2023).

Parity with the authors' code (https://github.com/tiny-smart/dysample, ``dysample.py``
at commit 81a1de5caa95d55a0f5488425fa53ec7ef47f8f0): same parameter and buffer names and
shapes (``offset.weight``, ``offset.bias``, ``scope.weight`` with ``dyscope``, the
``init_pos`` buffer), same offset channel order and the same arithmetic at the design
ratio, so an official ``DySample(in_channels, scale, style, groups, dyscope)`` state dict
loads with ``strict=True`` and reproduces its output (checked against golden tensors
made by the official code, ``tests/test_models/test_upsamplers/golden/``).
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from .base import BaseUpsampler, Size, check_groups, design_scale


def dysample_init_pos(scale: int, groups: int) -> Tensor:
    """The official ``init_pos`` buffer, ``[1, 2 * groups * scale^2, 1, 1]`` (float32).

    Channel ``(xy, group, i * scale + j)`` holds the offset of sub-pixel ``(i, j)`` from
    its source pixel centre in source pixels: ``(j - (scale - 1) / 2) / scale`` for ``x``
    and ``(i - (scale - 1) / 2) / scale`` for ``y``, the same for every group.
    """
    steps = (torch.arange(scale, dtype=torch.float32) - (scale - 1) / 2) / scale
    x_off = steps.view(1, scale).expand(scale, scale)  # varies along the column j
    y_off = steps.view(scale, 1).expand(scale, scale)  # varies along the row i
    pos = torch.stack((x_off, y_off)).reshape(2, 1, scale * scale).expand(2, groups, -1)
    return pos.reshape(1, -1, 1, 1).contiguous()


def convert_dysample_legacy_state_dict(state_dict: Dict[str, Tensor], scale: int,
                                       groups: int) -> Dict[str, Tensor]:
    """Convert a state dict of mmfeatup's old 'lp' DySample (before official parity) to
    the official layout.

    The old module ordered the ``2 * groups * scale^2`` offset channels
    ``(group, xy, subpixel)``; the official one orders them ``(xy, group, subpixel)`` and
    keeps an ``init_pos`` buffer. This permutes ``offset.weight``/``offset.bias``/
    ``scope.weight`` accordingly and adds ``init_pos``; the converted dict loads strictly
    and gives the old module's outputs (at its design ratio).
    """
    if 'init_pos' in state_dict:
        raise ValueError('state dict already has init_pos: it is not in the legacy layout')
    subpixels = scale * scale
    # new channel (xy, g, p) <- old channel (g, xy, p)
    index = torch.arange(2 * groups * subpixels).view(groups, 2, subpixels)
    index = index.permute(1, 0, 2).reshape(-1)
    out = {}
    for key, value in state_dict.items():
        if key in ('offset.weight', 'offset.bias', 'scope.weight'):
            if value.shape[0] != index.numel():
                raise ValueError(f'{key}: {value.shape[0]} output channels, expected '
                                 f'2 * groups * scale^2 = {index.numel()}')
            value = value.index_select(0, index)
        out[key] = value
    out['init_pos'] = dysample_init_pos(scale, groups)
    return out


@UPSAMPLERS.register_module(name='DySample')
class DySampleUpsampler(BaseUpsampler):
    """DySample, official semantics: styles 'lp' and 'pl', static or dynamic scope, groups.

    'lp' (linear then pixel-shuffle): offsets ``O = 0.25 * offset(x)`` (static scope) or
    ``O = 0.5 * sigmoid(scope(x)) * offset(x)`` (dynamic scope), ``2 g s^2`` channels
    ordered ``(xy, group, subpixel)`` as in the official code. 'pl' (pixel-shuffle then
    linear): the same 1x1 convs run on ``pixel_shuffle(x, s)`` (``C / s^2`` channels,
    ``2 g`` outputs) and the result is pixel-unshuffled back. Each output point samples the
    source bilinearly (``grid_sample``, border padding, ``align_corners=False``), per
    channel group, at its sub-pixel position ``init_pos`` plus ``O``. The official init
    (``offset`` weights N(0, 0.001), zero bias, zero ``scope``) makes an untrained module
    (nearly) bilinear upsampling.

    Ratios: ``scale_factor`` (int, default 2) is the official ``scale``; at that ratio the
    output is the official one. Other output sizes (non-integer and unequal ratios too)
    resize the learned offset field (``O`` pixel-shuffled to ``[B, 2g, sh, sw]``)
    bilinearly to the output grid and add each output point's own position: a documented
    generalisation outside the official code.

    Guidance is ignored (DySample upsamples from the source alone).

    Args:
        in_channels (int): feature channels ``C`` (kept); divisible by ``groups`` (and by
            ``scale^2`` for 'pl').
        guidance_channels (int): unused. Default: 3.
        scale_factor (int, optional): the official ``scale``. Default: None (= 2).
        style (str): ``'lp'`` or ``'pl'``. Default: ``'lp'`` (official default).
        groups (int): offset groups ``g``. Default: 4 (official default).
        dyscope (bool): dynamic scope factor. Default: False (official default).
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, style: str = 'lp', groups: int = 4,
                 dyscope: bool = False) -> None:
        scale = design_scale(scale_factor, type(self).__name__)
        super().__init__(in_channels, guidance_channels, scale)
        if style not in ('lp', 'pl'):
            raise ValueError(f"style must be 'lp' or 'pl', got {style!r}")
        groups = check_groups(groups, in_channels)
        if style == 'pl' and in_channels % (scale * scale):
            raise ValueError(f"style 'pl' needs in_channels={in_channels} divisible by "
                             f'scale^2={scale * scale}')
        self.scale = scale
        self.style = style
        self.groups = groups
        self.dyscope = bool(dyscope)
        if style == 'pl':
            conv_in, conv_out = in_channels // (scale * scale), 2 * groups
        else:
            conv_in, conv_out = in_channels, 2 * groups * scale * scale
        self.offset = nn.Conv2d(conv_in, conv_out, 1)
        nn.init.normal_(self.offset.weight, mean=0.0, std=0.001)
        nn.init.zeros_(self.offset.bias)
        if self.dyscope:
            self.scope = nn.Conv2d(conv_in, conv_out, 1, bias=False)
            nn.init.zeros_(self.scope.weight)
        else:
            self.scope = None
        self.register_buffer('init_pos', dysample_init_pos(scale, groups))

    def learned_offsets(self, source: Tensor) -> Tensor:
        """Scaled learned offsets ``O`` in source pixels, ``[B, 2 g s^2, h, w]``, channels
        ``(xy, group, subpixel)``, without ``init_pos``."""
        if self.style == 'pl':
            shuffled = F.pixel_shuffle(source, self.scale)
            raw = self.offset(shuffled)
            if self.scope is not None:
                return F.pixel_unshuffle(raw * self.scope(shuffled).sigmoid(), self.scale) * 0.5
            return F.pixel_unshuffle(raw, self.scale) * 0.25
        raw = self.offset(source)
        if self.scope is not None:
            return raw * self.scope(source).sigmoid() * 0.5
        return raw * 0.25

    def sampling_grid(self, source: Tensor, size: Size) -> Tensor:
        """``grid_sample`` grid ``[B * g, H, W, 2]`` (``(x, y)`` in ``[-1, 1]``)."""
        batch, _, height, width = source.shape
        offsets = self.learned_offsets(source)
        if tuple(size) != (self.scale * height, self.scale * width):
            return self.resized_field_grid(offsets, size, (height, width))
        # the official arithmetic: per source pixel, its centre + init_pos + O, then shuffle
        dtype, device = source.dtype, source.device
        pos = (offsets + self.init_pos).reshape(batch, 2, -1, height, width)
        xs = torch.arange(width, dtype=dtype, device=device) + 0.5
        ys = torch.arange(height, dtype=dtype, device=device) + 0.5
        centres = torch.stack((xs.view(1, -1).expand(height, width),
                               ys.view(-1, 1).expand(height, width)))
        normalizer = torch.tensor([width, height], dtype=dtype, device=device)
        coords = 2 * (centres.view(1, 2, 1, height, width) + pos) / normalizer.view(
            1, 2, 1, 1, 1) - 1
        coords = F.pixel_shuffle(coords.reshape(batch, -1, height, width), self.scale)
        coords = coords.reshape(batch, 2, self.groups, *size).permute(0, 2, 3, 4, 1)
        return coords.reshape(batch * self.groups, size[0], size[1], 2)

    def resized_field_grid(self, offsets: Tensor, size: Size, source_size: Size) -> Tensor:
        """The generalisation to other output sizes: ``O`` pixel-shuffled to
        ``[B, 2g, sh, sw]``, resized bilinearly to ``size``, plus each output point's own
        position in the source. At ``size = s * source_size`` it equals the official grid
        up to rounding (``init_pos`` is float32); ``grid_sample`` grid ``[B * g, H, W, 2]``."""
        batch = offsets.shape[0]
        height, width = source_size
        dtype, device = offsets.dtype, offsets.device
        field = F.pixel_shuffle(offsets, self.scale)  # [B, 2g, sh, sw], (xy, group)
        if tuple(field.shape[-2:]) != tuple(size):
            field = F.interpolate(field, size=size, mode='bilinear', align_corners=False)
        xs = (torch.arange(size[1], dtype=dtype, device=device) + 0.5) * (width / size[1])
        ys = (torch.arange(size[0], dtype=dtype, device=device) + 0.5) * (height / size[0])
        centres = torch.stack((xs.view(1, -1).expand(*size), ys.view(-1, 1).expand(*size)))
        coords = field.reshape(batch, 2, self.groups, *size) + centres.view(1, 2, 1, *size)
        normalizer = torch.tensor([width, height], dtype=dtype, device=device)
        coords = 2 * coords / normalizer.view(1, 2, 1, 1, 1) - 1
        coords = coords.permute(0, 2, 3, 4, 1)
        return coords.reshape(batch * self.groups, size[0], size[1], 2)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        batch, channels, height, width = source.shape
        grid = self.sampling_grid(source, size)
        grouped = source.reshape(batch * self.groups, channels // self.groups, height, width)
        out = F.grid_sample(grouped, grid, mode='bilinear', padding_mode='border',
                            align_corners=False)
        return out.reshape(batch, channels, *size)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, style={self.style!r}, groups={self.groups}, '
                f'dyscope={self.dyscope}')
