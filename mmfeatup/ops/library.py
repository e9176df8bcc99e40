"""Fake (meta) kernels of the ``torch.ops.mmfeatup`` ops, registered from Python.

The compiled library (``ops/csrc``) registers everything else itself: the schemas, the CPU
and CUDA kernels and autograd (``torch::autograd::Function`` on the Autograd key, double
backward included), so even ``torch.ops.load_library(<path to _ext.so>)`` alone gives
differentiable ops. The fake kernels here let the ops trace under ``torch.compile`` and
pass ``torch.library.opcheck``; they live in Python because the CPU kernels write their
feature outputs channels-last and CUDA's are contiguous, which a Meta kernel (it sees
only meta tensors) cannot tell apart.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

_REGISTERED = False


def _feature_output(like: Tensor, *shape: int) -> Tensor:
    """The ``[B, C, H, W]`` feature output of ``adaptive_conv`` / ``jbu_upsample`` /
    ``bicubic_adaptive_conv``: the CPU
    kernels write it channels-last (their inner loops run over channels), CUDA NCHW."""
    layout = torch.channels_last if like.device.type == 'cpu' else torch.contiguous_format
    return like.new_empty(shape).contiguous(memory_format=layout)


def _adaptive_conv_fake(input: Tensor, weights: Tensor) -> Tensor:
    return _feature_output(input, input.shape[0], input.shape[1], weights.shape[2],
                           weights.shape[3])


def _adaptive_conv_backward_fake(grad_output: Tensor, input: Tensor,
                                 weights: Tensor) -> Tuple[Tensor, Tensor]:
    return input.new_empty(input.shape), weights.new_empty(weights.shape)


def _range_kernel_fake(keys: Tensor, temperature: Tensor, radius: int) -> Tensor:
    diameter = 2 * radius + 1
    return keys.new_empty(keys.shape[0], diameter * diameter, keys.shape[2], keys.shape[3])


def _range_kernel_backward_fake(grad_output: Tensor, output: Tensor, keys: Tensor,
                                temperature: Tensor, radius: int) -> Tuple[Tensor, Tensor]:
    return keys.new_empty(keys.shape), temperature.new_empty(temperature.shape)


def _jbu_upsample_fake(source_padded: Tensor, keys: Tensor, temperature: Tensor, sigma: Tensor,
                       radius: int) -> Tensor:
    return _feature_output(source_padded, source_padded.shape[0], source_padded.shape[1],
                           keys.shape[2], keys.shape[3])


def _jbu_upsample_backward_fake(grad_output: Tensor, source_padded: Tensor, keys: Tensor,
                                temperature: Tensor, sigma: Tensor,
                                radius: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    return (source_padded.new_empty(source_padded.shape), keys.new_empty(keys.shape),
            temperature.new_empty(temperature.shape), sigma.new_empty(sigma.shape))


FAKES = {
    'mmfeatup::adaptive_conv': _adaptive_conv_fake,
    'mmfeatup::adaptive_conv_backward': _adaptive_conv_backward_fake,
    'mmfeatup::range_kernel': _range_kernel_fake,
    'mmfeatup::range_kernel_backward': _range_kernel_backward_fake,
    'mmfeatup::jbu_upsample': _jbu_upsample_fake,
    'mmfeatup::jbu_upsample_backward': _jbu_upsample_backward_fake,
    # the same shapes as adaptive_conv's: [B, C] of the features, [H, W] of the weights
    'mmfeatup::bicubic_adaptive_conv': _adaptive_conv_fake,
    'mmfeatup::bicubic_adaptive_conv_backward': _adaptive_conv_backward_fake,
}


def register_python_parts() -> None:
    """Register the fake kernels of every op (idempotent).

    Requires the compiled library (``import mmfeatup._ext``) to be loaded.
    """
    global _REGISTERED
    if _REGISTERED:
        return
    for name, fake in FAKES.items():
        torch.library.register_fake(name, fake)
    _REGISTERED = True
