"""Argument checks of the public op API (ValueError naming the argument).

The same checks run for the compiled and the reference backend, so both reject
the same inputs; the C++ ops repeat them (``ops/csrc/pytorch/checks.cpp``) for
direct ``torch.ops.mmfeatup`` calls.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

_CPU_DTYPES = (torch.float32, torch.float64)
_CUDA_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _shape(tensor: Tensor) -> str:
    return str(list(tensor.shape))


def check_tensor(op: str, name: str, value: object, dim: int, layout: str) -> Tensor:
    """Check ``value`` is a non-empty floating tensor of rank ``dim`` with a supported dtype."""
    if not isinstance(value, Tensor):
        raise ValueError(f'{op}: {name} must be a torch.Tensor, got {type(value).__name__}')
    if value.dim() != dim:
        raise ValueError(f'{op}: {name} must be {dim}-D {layout}, got shape {_shape(value)}')
    if value.numel() == 0:
        raise ValueError(f'{op}: {name} must be non-empty, got shape {_shape(value)}')
    allowed = _CUDA_DTYPES if value.device.type == 'cuda' else _CPU_DTYPES
    if value.dtype not in allowed:
        raise ValueError(f'{op}: {name} has unsupported dtype {value.dtype} on '
                         f'{value.device.type} (supported: {[str(d) for d in allowed]}; '
                         'float16/bfloat16 on CUDA only)')
    return value


def check_scalar_tensor(op: str, name: str, value: object) -> Tensor:
    """Check ``value`` is a 0-d or one-element tensor."""
    if not isinstance(value, Tensor) or value.numel() != 1:
        shape = _shape(value) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f'{op}: {name} must be a 0-d or 1-element tensor, got {shape}')
    return value


def check_same(op: str, reference: str, tensors: Sequence[tuple]) -> None:
    """Check every ``(name, tensor)`` shares the device and dtype of the first pair."""
    ref_name, ref = tensors[0]
    for name, tensor in tensors[1:]:
        if tensor.device != ref.device:
            raise ValueError(f'{op}: {name} is on {tensor.device} but {ref_name} is on '
                             f'{ref.device}; all tensors must be on the same device')
        if tensor.dtype != ref.dtype:
            raise ValueError(f'{op}: {name} has dtype {tensor.dtype} but {ref_name} has dtype '
                             f'{ref.dtype}; all tensors must have the same dtype')


def check_radius(op: str, radius: object, height: int, width: int) -> int:
    """Check the window radius: an int with ``1 <= radius < min(H, W)`` (reflect padding)."""
    if isinstance(radius, bool) or not isinstance(radius, int):
        raise ValueError(f'{op}: radius must be an int, got {type(radius).__name__}')
    if radius < 1:
        raise ValueError(f'{op}: radius must be >= 1, got {radius}')
    if radius >= height or radius >= width:
        raise ValueError(f'{op}: radius must be smaller than the keys height and width for '
                         f'reflect padding, got radius={radius} for (H, W) = ({height}, {width})')
    return radius


def radius_of_taps(op: str, taps: int) -> int:
    """Radius ``r`` of ``taps = (2r+1)^2``; ValueError otherwise."""
    diameter = math.isqrt(taps)
    if diameter * diameter != taps or diameter % 2 == 0:
        raise ValueError(f'{op}: weights must have T = (2r+1)^2 taps (a square of an odd '
                         f'number), got T={taps}')
    return diameter // 2


def check_padded(op: str, padded: tuple, target: tuple, radius: int, what: str) -> None:
    """Check the ``(name, tensor)`` pair ``padded`` has the batch of ``target`` and its
    spatial size plus ``2 * radius``."""
    (name, tensor), (target_name, like) = padded, target
    if tensor.shape[0] != like.shape[0]:
        raise ValueError(f'{op}: batch size mismatch: {name} has B={tensor.shape[0]}, '
                         f'{target_name} has B={like.shape[0]}')
    expected = (like.shape[2] + 2 * radius, like.shape[3] + 2 * radius)
    if tuple(tensor.shape[2:]) != expected:
        raise ValueError(f'{op}: {name} spatial size {tuple(tensor.shape[2:])} must be the '
                         f'{target_name}\' (H+2r, W+2r) = {expected} for {what}')


def adaptive_conv_weights(input: object, weights: object) -> Tensor:
    """Validate ``adaptive_conv`` arguments; return the weights as ``[B, T, H, W]``.

    A 5-D ``weights`` is the authors' layout ``[B, H, W, d, d]`` and is converted
    (``T = d*d`` row-major, so ``weights[b, y, x, i, j]`` becomes tap ``t = i*d + j``).
    """
    op = 'adaptive_conv'
    check_tensor(op, 'input', input, 4, '[B,C,H+2r,W+2r]')
    if isinstance(weights, Tensor) and weights.dim() == 5:
        batch, height, width, rows, cols = weights.shape
        if rows != cols or rows % 2 == 0:
            raise ValueError(f'{op}: weights in the [B,H,W,d,d] layout need an odd d in the '
                             f'last two dims, got shape {_shape(weights)}')
        weights = weights.permute(0, 3, 4, 1, 2).reshape(batch, rows * cols, height, width)
    check_tensor(op, 'weights', weights, 4, '[B,T,H,W] (or the authors\' [B,H,W,d,d])')
    check_same(op, 'input', [('input', input), ('weights', weights)])
    radius = radius_of_taps(op, weights.shape[1])
    check_padded(op, ('input', input), ('weights', weights), radius,
                 f'radius r={radius} (T={weights.shape[1]})')
    return weights


def bicubic_adaptive_conv_args(source: object, weights: object) -> None:
    """Validate ``bicubic_adaptive_conv`` arguments."""
    op = 'bicubic_adaptive_conv'
    check_tensor(op, 'source', source, 4, '[B,C,h,w]')
    check_tensor(op, 'weights', weights, 4, '[B,T,H,W]')
    check_same(op, 'source', [('source', source), ('weights', weights)])
    radius = radius_of_taps(op, weights.shape[1])
    if source.shape[0] != weights.shape[0]:
        raise ValueError(f'{op}: batch size mismatch: source has B={source.shape[0]}, '
                         f'weights has B={weights.shape[0]}')
    if radius >= weights.shape[2] or radius >= weights.shape[3]:
        raise ValueError(f'{op}: the weights\' radius r={radius} (T={weights.shape[1]}) must be '
                         'smaller than their height and width for reflect padding, got (H, W) = '
                         f'{tuple(weights.shape[2:])}')


def range_kernel_args(keys: object, temperature: object, radius: object,
                      op: str = 'range_kernel') -> int:
    """Validate ``range_kernel`` arguments; return the radius."""
    check_tensor(op, 'keys', keys, 4, '[B,D,H,W]')
    check_scalar_tensor(op, 'temperature', temperature)
    check_same(op, 'keys', [('keys', keys), ('temperature', temperature)])
    return check_radius(op, radius, keys.shape[2], keys.shape[3])


def jbu_upsample_args(source_padded: object, keys: object, temperature: object, sigma: object,
                      radius: object) -> int:
    """Validate ``jbu_upsample`` arguments; return the radius."""
    op = 'jbu_upsample'
    radius = range_kernel_args(keys, temperature, radius, op)
    check_tensor(op, 'source_padded', source_padded, 4, '[B,C,H+2r,W+2r]')
    check_scalar_tensor(op, 'sigma', sigma)
    check_same(op, 'keys', [('keys', keys), ('source_padded', source_padded), ('sigma', sigma)])
    check_padded(op, ('source_padded', source_padded), ('keys', keys), radius,
                 f'radius={radius}')
    return radius
