"""Plain-PyTorch references of the mmfeatup ops (float64-exact, autograd-able).

They define the contract the compiled kernels are tested against and serve as
the fallback when the extension is not built. See ``docs/design.md`` section 2.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def taps_to_radius(taps: int) -> int:
    """Radius ``r`` of a window of ``taps = (2r+1)^2`` taps."""
    diameter = math.isqrt(taps)
    if diameter * diameter != taps or diameter % 2 == 0:
        raise ValueError(f'weights: number of taps T={taps} is not the square of an odd number')
    return diameter // 2


def adaptive_conv_reference(input: Tensor, weights: Tensor) -> Tensor:
    """``out[b,c,y,x] = sum_t weights[b,t,y,x] * input[b,c,y+t//d,x+t%d]``.

    Args:
        input (Tensor): padded features ``[B, C, H+2r, W+2r]``.
        weights (Tensor): per-pixel filters ``[B, T, H, W]``, ``T=(2r+1)^2``, taps row-major.

    Returns:
        Tensor: ``[B, C, H, W]``.
    """
    batch, taps, height, width = weights.shape
    radius = taps_to_radius(taps)
    diameter = 2 * radius + 1
    out = input.new_zeros(batch, input.shape[1], height, width)
    for t in range(taps):
        row, col = divmod(t, diameter)
        out = out + weights[:, t:t + 1] * input[:, :, row:row + height, col:col + width]
    return out


def bicubic_adaptive_conv_reference(source: Tensor, weights: Tensor) -> Tensor:
    """``adaptive_conv`` of the bicubic-resized, reflect-padded source (one JBU stage's filter).

    Args:
        source (Tensor): low-resolution features ``[B, C, h, w]``.
        weights (Tensor): per-pixel filters ``[B, T, H, W]``, ``T=(2r+1)^2``, taps row-major.

    Returns:
        Tensor: ``[B, C, H, W]`` = ``adaptive_conv(reflect_pad(bicubic(source, (H, W)), r),
        weights)`` (``align_corners=False``).
    """
    radius = taps_to_radius(weights.shape[1])
    resized = F.interpolate(source, size=tuple(weights.shape[-2:]), mode='bicubic',
                            align_corners=False)
    return adaptive_conv_reference(F.pad(resized, [radius] * 4, mode='reflect'), weights)


def range_kernel_reference(keys: Tensor, temperature: Tensor, radius: int) -> Tensor:
    """Softmax range kernel of FeatUp's JBU (docs/design.md section 1, step 2).

    Args:
        keys (Tensor): range keys ``[B, D, H, W]``.
        temperature (Tensor): the multiplier ``tau`` (0-d or one element).
        radius (int): window radius ``r``; keys are reflect-padded by ``r``.

    Returns:
        Tensor: ``[B, (2r+1)^2, H, W]``, softmax over the taps.
    """
    height, width = keys.shape[-2:]
    diameter = 2 * radius + 1
    padded = F.pad(keys, [radius] * 4, mode='reflect')
    logits = torch.stack([
        (padded[:, :, row:row + height, col:col + width] * keys).sum(1)
        for row in range(diameter) for col in range(diameter)
    ], dim=1)
    return torch.softmax(temperature.reshape(()) * logits, dim=1)


def spatial_kernel_reference(sigma: Tensor, radius: int) -> Tensor:
    """Gaussian spatial kernel ``[(2r+1)^2]`` on a ``linspace(-1, 1, 2r+1)`` grid."""
    grid = torch.linspace(-1, 1, 2 * radius + 1, dtype=sigma.dtype, device=sigma.device)
    yy, xx = torch.meshgrid(grid, grid, indexing='ij')
    return torch.exp(-(xx.square() + yy.square()).reshape(-1) / (2 * sigma.reshape(()) ** 2))


def jbu_upsample_reference(source_padded: Tensor, keys: Tensor, temperature: Tensor,
                           sigma: Tensor, radius: int) -> Tensor:
    """Fused JBU without fixup: normalised (range x spatial) kernel applied to features.

    Args:
        source_padded (Tensor): upsampled, reflect-padded features ``[B, C, H+2r, W+2r]``.
        keys (Tensor): range keys at the target size ``[B, D, H, W]``.
        temperature (Tensor): range temperature ``tau``.
        sigma (Tensor): spatial sigma.
        radius (int): window radius.

    Returns:
        Tensor: ``[B, C, H, W]``.
    """
    kernel = range_kernel_reference(keys, temperature, radius)
    kernel = kernel * spatial_kernel_reference(sigma, radius).reshape(1, -1, 1, 1)
    kernel = kernel / kernel.sum(1, keepdim=True).clamp_min(1e-7)
    return adaptive_conv_reference(source_padded, kernel)


def adaptive_conv_unfold_reference(input: Tensor, weights: Tensor) -> Tensor:
    """``adaptive_conv`` through ``F.unfold`` (the memory-hungry formulation; benchmarks only).

    Materialises the unfolded ``[B, C*T, H*W]`` input.
    """
    batch, taps, height, width = weights.shape
    diameter = 2 * taps_to_radius(taps) + 1
    patches = F.unfold(input, diameter).reshape(batch, input.shape[1], taps, height, width)
    return torch.einsum('bcthw,bthw->bchw', patches, weights)


def range_kernel_unfold_reference(keys: Tensor, temperature: Tensor, radius: int) -> Tensor:
    """``range_kernel`` as FeatUp's Python code computes it: unfold the padded keys
    (``nn.Unfold``, the ``[B, D*T, H*W]`` tensor), einsum with the keys, softmax.
    Benchmarks only."""
    batch, depth, height, width = keys.shape
    diameter = 2 * radius + 1
    padded = F.pad(keys, [radius] * 4, mode='reflect')
    patches = torch.nn.Unfold(diameter)(padded).reshape(batch, depth, diameter * diameter,
                                                         height, width)
    logits = torch.einsum('bdthw,bdhw->bthw', patches, keys)
    return torch.softmax(temperature.reshape(()) * logits, dim=1)
