"""The public JBU ops: compiled kernels when available, the pure-PyTorch reference otherwise."""
from __future__ import annotations

import torch
from torch import Tensor

from . import loader, validation
from .reference import (adaptive_conv_reference, bicubic_adaptive_conv_reference,
                        jbu_upsample_reference, range_kernel_reference)


def adaptive_conv(input: Tensor, weights: Tensor) -> Tensor:
    """Per-pixel ("adaptive") convolution of FeatUp's JBU (docs/design.md section 1, step 5).

    ``out[b, c, y, x] = sum_t weights[b, t, y, x] * input[b, c, y + t // d, x + t % d]``
    with ``d = 2r + 1`` and ``T = d * d`` taps in row-major order.

    Args:
        input (Tensor): padded features ``[B, C, H+2r, W+2r]``.
        weights (Tensor): per-pixel filters ``[B, T, H, W]``, or the authors' layout
            ``[B, H, W, d, d]`` (converted here).

    Returns:
        Tensor: ``[B, C, H, W]``, differentiable w.r.t. ``input`` and ``weights``.
    """
    weights = validation.adaptive_conv_weights(input, weights)
    if loader.use_compiled(input.device.type):
        return torch.ops.mmfeatup.adaptive_conv(input, weights)
    return adaptive_conv_reference(input, weights)


def bicubic_adaptive_conv(source: Tensor, weights: Tensor) -> Tensor:
    """One JBU stage's resize and per-pixel filter in one op, without the resized map.

    ``adaptive_conv(reflect_pad(bicubic(source, (H, W)), r), weights)`` with PyTorch's
    bicubic resize (``align_corners=False``): the compiled kernels compose the resize
    with each pixel's filter, so neither the resized nor the padded ``[B, C, H+2r,
    W+2r]`` map is built (the CPU forward reads each source pixel from cache, not an
    81 MB intermediate at C=384, 224^2). The CPU backward is fused as well (where no
    axis downscales); the CUDA one recomputes the padded map (the same gradients as
    the two-step path).

    Args:
        source (Tensor): low-resolution features ``[B, C, h, w]``.
        weights (Tensor): per-pixel filters ``[B, T, H, W]``, ``T = (2r+1)^2``, taps
            row-major, ``r < min(H, W)``.

    Returns:
        Tensor: ``[B, C, H, W]``, differentiable w.r.t. ``source`` and ``weights``
        (any order).
    """
    validation.bicubic_adaptive_conv_args(source, weights)
    if loader.use_compiled(source.device.type):
        return torch.ops.mmfeatup.bicubic_adaptive_conv(source, weights)
    return bicubic_adaptive_conv_reference(source, weights)


def range_kernel(keys: Tensor, temperature: Tensor, radius: int) -> Tensor:
    """Softmax range kernel of FeatUp's JBU (docs/design.md section 1, step 2).

    ``R[b, t, p] = softmax_t(tau * <K[b, :, reflect(p + offset_t)], K[b, :, p]>)``; the
    keys are reflect-padded by ``radius`` inside the op and the unfolded
    ``[B, D*T, H, W]`` tensor is never built.

    Args:
        keys (Tensor): range keys ``[B, D, H, W]``.
        temperature (Tensor): the positive multiplier ``tau`` (already exp'd and
            clamped), a 0-d or 1-element tensor of the keys' dtype and device.
        radius (int): window radius ``r``, ``1 <= r < min(H, W)``.

    Returns:
        Tensor: ``[B, (2r+1)^2, H, W]``, differentiable w.r.t. ``keys`` and ``temperature``.
    """
    radius = validation.range_kernel_args(keys, temperature, radius)
    if loader.use_compiled(keys.device.type):
        return torch.ops.mmfeatup.range_kernel(keys, temperature, radius)
    return range_kernel_reference(keys, temperature, radius)


def jbu_upsample(source_padded: Tensor, keys: Tensor, temperature: Tensor, sigma: Tensor,
                 radius: int) -> Tensor:
    """Fused JBU stage without the fixup term (inference path).

    Exact contract (equal to :func:`mmfeatup.ops.reference.jbu_upsample_reference`)::

        R  = range_kernel(keys, temperature, radius)                     # [B, T, H, W]
        Sp = exp(-(x_t^2 + y_t^2) / (2 sigma^2)), (y_t, x_t) = offset_t / radius
        A  = R * Sp                                                      # [B, T, H, W]
        W  = A / A.sum(1, keepdim=True).clamp_min(1e-7)
        out[b, c, y, x] = sum_t W[b, t, y, x] * source_padded[b, c, y + i_t, x + j_t]

    No fixup (``W += 0.1 * fixup(...)``) is applied, so this equals a JBU stage
    only for a model whose fixup is absent or disabled. The kernel ``W`` is never
    materialised on CPU (on CUDA it lives in one float32 ``[B, T, H, W]`` buffer).
    Gradients for all tensor arguments are available (the backward recomputes
    the kernel with the compiled ops).

    Args:
        source_padded (Tensor): upsampled, reflect-padded features ``[B, C, H+2r, W+2r]``.
        keys (Tensor): range keys at the target size ``[B, D, H, W]``.
        temperature (Tensor): range temperature ``tau`` (0-d or 1 element).
        sigma (Tensor): spatial sigma (0-d or 1 element).
        radius (int): window radius ``r``, ``1 <= r < min(H, W)``.

    Returns:
        Tensor: ``[B, C, H, W]``.
    """
    radius = validation.jbu_upsample_args(source_padded, keys, temperature, sigma, radius)
    if loader.use_compiled(keys.device.type):
        return torch.ops.mmfeatup.jbu_upsample(source_padded, keys, temperature, sigma, radius)
    return jbu_upsample_reference(source_padded, keys, temperature, sigma, radius)
