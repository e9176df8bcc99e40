"""The image encoders of the image-query attention upsamplers (JAFAR, AnyUp): argument
checks, guidance preparation, GroupNorm-SiLU-conv residual blocks and the learnable 2-D
"RoPE" (see :mod:`mmfeatup.models.layers.image_attention` for the attention itself)."""
from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Size = Tuple[int, int]


def check_qk_dim(qk_dim: int, num_heads: int, name: str) -> Tuple[int, int]:
    """``(qk_dim, num_heads)`` as ints, or ValueError (GroupNorm(8), RoPE, heads need it)."""
    if int(qk_dim) != qk_dim or qk_dim <= 0 or qk_dim % 8:
        raise ValueError(f'{name}: qk_dim must be a positive multiple of 8 (GroupNorm with 8 '
                         f'groups, RoPE pairs), got {qk_dim!r}')
    if int(num_heads) != num_heads or num_heads <= 0 or qk_dim % num_heads:
        raise ValueError(f'{name}: num_heads must divide qk_dim={qk_dim}, got {num_heads!r}')
    return int(qk_dim), int(num_heads)


def prepare_guidance(guidance: Tensor, size: Size, guidance_size: str) -> Tensor:
    """The image the query/key encoders see.

    Args:
        guidance (Tensor): ``[B, 3, H', W']``.
        size (tuple[int, int]): output ``(H, W)``.
        guidance_size (str): ``'native'`` (the authors': encode the image as given;
            enlarged bilinearly only on an axis where it is smaller than the output, so
            that queries are never replicated) or ``'output'`` (resized to the output
            size first: area-averaged when larger; cheaper for large images).

    Returns:
        Tensor: the image to encode.
    """
    if guidance_size == 'output':
        if tuple(guidance.shape[-2:]) == tuple(size):
            return guidance
        if guidance.shape[-2] >= size[0] and guidance.shape[-1] >= size[1]:
            return F.adaptive_avg_pool2d(guidance, size)
        return F.interpolate(guidance, size=size, mode='bilinear', align_corners=False)
    target = (max(int(guidance.shape[-2]), size[0]), max(int(guidance.shape[-1]), size[1]))
    if target == tuple(guidance.shape[-2:]):
        return guidance
    return F.interpolate(guidance, size=target, mode='bilinear', align_corners=False)


def check_guidance_size(value: str, name: str) -> str:
    if value not in ('native', 'output'):
        raise ValueError(f"{name}: guidance_size must be 'native' or 'output', got {value!r}")
    return value


def padded_conv(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv(x)``, but with replicate padding where reflect padding cannot apply.

    Reflect padding of ``p`` needs every side longer than ``p``; for a 1-pixel axis
    (a ``1 x w`` source) the padding becomes replicate (the only extension there is).
    """
    pad = conv.padding[0] if isinstance(conv.padding, tuple) else 0
    if conv.padding_mode != 'reflect' or pad == 0 or min(x.shape[-2:]) > pad:
        return conv(x)
    x = F.pad(x, [pad] * 4, mode='replicate')
    return F.conv2d(x, conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)


def run_encoder(encoder: nn.Sequential, x: Tensor) -> Tensor:
    """Apply an encoder of :func:`make_encoder`, robust to 1-pixel axes (:func:`padded_conv`)."""
    first = encoder[0]
    x = padded_conv(first, x) if isinstance(first, nn.Conv2d) else first(x)
    for block in list(encoder)[1:]:
        x = block(x)
    return x


def reflect_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv2d:
    """A bias-free conv with reflect padding ``k // 2`` (none for ``k = 1``: a 1x1 conv
    with ``padding_mode='reflect'`` would still copy its input through a zero pad)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                     padding_mode='reflect' if kernel_size > 1 else 'zeros', bias=False)


class ResBlock(nn.Module):
    """``x + conv2(SiLU(GN(conv1(SiLU(GN(x))))))`` (a 1x1 conv shortcut when channels change).

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): odd kernel of both convs (bias-free, reflect padding).
            Default: 1 (the authors').
        num_groups (int): GroupNorm groups. Default: 8.
        layout (str): parameter names: ``'named'`` (JAFAR: ``norm1``, ``conv1``,
            ``norm2``, ``conv2``) or ``'sequential'`` (AnyUp: ``block.0``, ``block.2``,
            ``block.3``, ``block.5``). Default: ``'named'``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 num_groups: int = 8, layout: str = 'named') -> None:
        super().__init__()
        if layout not in ('named', 'sequential'):
            raise ValueError(f"layout must be 'named' or 'sequential', got {layout!r}")
        norm1 = nn.GroupNorm(num_groups, in_channels)
        conv1 = reflect_conv(in_channels, out_channels, kernel_size)
        norm2 = nn.GroupNorm(num_groups, out_channels)
        conv2 = reflect_conv(out_channels, out_channels, kernel_size)
        self.layout = layout
        if layout == 'named':
            self.norm1, self.conv1, self.norm2, self.conv2 = norm1, conv1, norm2, conv2
        else:
            self.block = nn.Sequential(norm1, nn.SiLU(), conv1, norm2, nn.SiLU(), conv2)
        self.shortcut = (nn.Conv2d(in_channels, out_channels, 1, bias=False)
                         if in_channels != out_channels else None)

    def forward(self, x: Tensor) -> Tensor:
        if self.layout == 'named':
            norm1, conv1, norm2, conv2 = self.norm1, self.conv1, self.norm2, self.conv2
        else:
            norm1, conv1, norm2, conv2 = self.block[0], self.block[2], self.block[3], self.block[5]
        y = padded_conv(conv1, F.silu(norm1(x)))
        y = padded_conv(conv2, F.silu(norm2(y)))
        return y + (x if self.shortcut is None else self.shortcut(x))


def make_encoder(in_channels: int, dim: int, kernel_size: int, num_layers: int = 2,
                 layout: str = 'named') -> nn.Sequential:
    """``conv(in -> dim, k, reflect, no bias)`` then ``num_layers`` 1x1 :class:`ResBlock`\\ s."""
    return nn.Sequential(
        reflect_conv(in_channels, dim, kernel_size),
        *[ResBlock(dim, dim, 1, layout=layout) for _ in range(num_layers)])


class RoPE2d(nn.Module):
    """The authors' learnable rotary encoding of an encoded image ``[B, E, H, W]``.

    ``y = x cos(a) + rot(x) sin(a)``, ``rot(x) = [-x[E/2:], x[:E/2]]`` and
    ``a[c, i, j] = r_i freqs[0, c] + c_j freqs[1, c]`` with ``r = linspace(0, 1, H)``,
    ``c = linspace(0, 1, W)``. Init: ``f = theta^linspace(0, -1, E/4)`` repeated twice,
    ``freqs[0, :E/2] = freqs[1, E/2:] = 2 pi f``, zero elsewhere. ``freqs`` is a
    parameter (trained), key ``freqs`` as theirs.

    Args:
        dim (int): channels ``E`` (a multiple of 4).
        theta (float): frequency range. Default: 100.
    """

    def __init__(self, dim: int, theta: float = 100.0) -> None:
        super().__init__()
        if dim <= 0 or dim % 4:
            raise ValueError(f'RoPE2d: dim must be a positive multiple of 4, got {dim}')
        self.dim = int(dim)
        self.theta = float(theta)
        self.freqs = nn.Parameter(torch.empty(2, self.dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        base = self.theta ** torch.linspace(0, -1, self.dim // 4, dtype=torch.float64)
        base = torch.cat([base, base]) * (2 * math.pi)
        freqs = torch.zeros(2, self.dim, dtype=torch.float64)
        freqs[0, :self.dim // 2] = base
        freqs[1, self.dim // 2:] = base
        with torch.no_grad():
            self.freqs.copy_(freqs)

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        freqs = self.freqs.to(x.dtype)
        rows = torch.linspace(0, 1, height, device=x.device, dtype=x.dtype)
        cols = torch.linspace(0, 1, width, device=x.device, dtype=x.dtype)
        angle = (rows.view(1, -1, 1) * freqs[0].view(-1, 1, 1) +
                 cols.view(1, 1, -1) * freqs[1].view(-1, 1, 1))  # [E, H, W]
        half = self.dim // 2
        rotated = torch.cat([-x[:, half:], x[:, :half]], dim=1)
        return x * angle.cos() + rotated * angle.sin()

    def extra_repr(self) -> str:
        return f'dim={self.dim}, theta={self.theta}'
