"""Python-side registrations of the ``torch.ops.mmfeatup`` ops.

The schemas and the CPU/CUDA kernels come from the compiled extension
(``ops/csrc/pytorch/register.cpp``). Here: fake (meta) kernels, so the ops trace
under ``torch.compile`` and pass ``torch.library.opcheck``, and autograd formulas
whose backward calls the compiled backward ops.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import torch
from torch import Tensor

_REGISTERED = False


def _spatial_kernel_and_sq_dist(sigma: Tensor, radius: int) -> Tuple[Tensor, Tensor]:
    """Spatial Gaussian ``[T]`` and the squared grid distances ``[T]`` it uses."""
    grid = torch.linspace(-1, 1, 2 * radius + 1, dtype=sigma.dtype, device=sigma.device)
    yy, xx = torch.meshgrid(grid, grid, indexing='ij')
    sq_dist = (xx.square() + yy.square()).reshape(-1)
    return torch.exp(-sq_dist / (2 * sigma.reshape(()) ** 2)), sq_dist


# ---- fake kernels ---------------------------------------------------------------------
def _feature_output(like: Tensor, *shape: int) -> Tensor:
    """The ``[B, C, H, W]`` feature output of ``adaptive_conv`` / ``jbu_upsample``: the CPU
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


# ---- autograd -------------------------------------------------------------------------
def _adaptive_conv_setup(ctx: Any, inputs: Sequence[Any], output: Tensor) -> None:
    ctx.save_for_backward(inputs[0], inputs[1])


def _adaptive_conv_backward(ctx: Any, grad_output: Tensor) -> Tuple[Optional[Tensor], ...]:
    input, weights = ctx.saved_tensors
    grad_input, grad_weights = torch.ops.mmfeatup.adaptive_conv_backward(
        grad_output, input, weights)
    return (grad_input if ctx.needs_input_grad[0] else None,
            grad_weights if ctx.needs_input_grad[1] else None)


# ---- backward state precision --------------------------------------------------------
# dtype of the backward state (the softmax R, the JBU kernel and its intermediates) per
# input dtype. float16/bfloat16 keep it in float32, the dtype the CUDA kernels compute in:
# d(tau) = sum_t R_t (g_t - sum_u g_u R_u) L_t cancels almost completely in saturated
# windows (R nearly one-hot), and R rounded to bfloat16 lost most of it (0.0055 against
# an exact 0.0187). The ops' outputs and gradients keep the input dtypes. CPU kernels
# take float32/float64 only, whose state is their own dtype. A module-level table so a
# test can route float32 through the same path on CPU.
_STATE_DTYPES = {torch.float16: torch.float32, torch.bfloat16: torch.float32}


def _state_dtype(dtype: torch.dtype) -> torch.dtype:
    return _STATE_DTYPES.get(dtype, dtype)


def _range_kernel_setup(ctx: Any, inputs: Sequence[Any], output: Tensor) -> None:
    keys, temperature, radius = inputs
    ctx.radius = radius
    if _state_dtype(keys.dtype) != keys.dtype:
        # The output is R rounded to the low-precision dtype: do not keep it; the
        # backward recomputes R in the state dtype (one range_kernel forward).
        ctx.save_for_backward(keys, temperature, None)
    else:
        ctx.save_for_backward(keys, temperature, output)


def _range_kernel_backward(ctx: Any, grad_output: Tensor) -> Tuple[Optional[Tensor], ...]:
    keys, temperature, output = ctx.saved_tensors
    state = _state_dtype(keys.dtype)
    if state != keys.dtype:
        keys_s, tau_s = keys.to(state), temperature.to(state)
        output = torch.ops.mmfeatup.range_kernel(keys_s, tau_s, ctx.radius)
        grad_keys, grad_temperature = torch.ops.mmfeatup.range_kernel_backward(
            grad_output.to(state), output, keys_s, tau_s, ctx.radius)
        grad_keys = grad_keys.to(keys.dtype)
        grad_temperature = grad_temperature.to(temperature.dtype)
    else:
        grad_keys, grad_temperature = torch.ops.mmfeatup.range_kernel_backward(
            grad_output, output, keys, temperature, ctx.radius)
    return (grad_keys if ctx.needs_input_grad[0] else None,
            grad_temperature if ctx.needs_input_grad[1] else None, None)


def _jbu_upsample_setup(ctx: Any, inputs: Sequence[Any], output: Tensor) -> None:
    source_padded, keys, temperature, sigma, radius = inputs
    ctx.radius = radius
    ctx.save_for_backward(source_padded, keys, temperature, sigma)


def _jbu_upsample_backward(ctx: Any, grad_output: Tensor) -> Tuple[Optional[Tensor], ...]:
    """Recompute the kernel with the compiled ops and chain the JBU formula by hand.

    ``A = R * Sp``, ``S = sum_t A``, ``W = A / max(S, 1e-7)``, ``out = adaptive_conv(U, W)``.
    The kernel and its gradient chain are computed in the state dtype (float32 for
    float16/bfloat16 inputs, as the CUDA forward does); the feature gradient comes from
    ``adaptive_conv_backward`` in the input dtype with the kernel rounded to it.
    """
    source_padded, keys, temperature, sigma, radius = (*ctx.saved_tensors, ctx.radius)
    state = _state_dtype(keys.dtype)
    keys_s, tau_s, sigma_s = keys.to(state), temperature.to(state), sigma.to(state)
    range_k = torch.ops.mmfeatup.range_kernel(keys_s, tau_s, radius)
    spatial, sq_dist = _spatial_kernel_and_sq_dist(sigma_s, radius)
    combined = range_k * spatial.reshape(1, -1, 1, 1)
    total = combined.sum(1, keepdim=True)
    denom = total.clamp_min(1e-7)
    kernel = combined / denom
    grad_source, grad_kernel = torch.ops.mmfeatup.adaptive_conv_backward(
        grad_output, source_padded, kernel.to(source_padded.dtype))
    grad_kernel = grad_kernel.to(state)
    # d/dA of A / clamp_min(S): clamp_min passes the gradient where S >= 1e-7 (as torch does).
    grad_total = -(grad_kernel * combined).sum(1, keepdim=True) / denom.square()
    grad_combined = grad_kernel / denom + grad_total * (total >= 1e-7).to(total.dtype)
    grad_range = grad_combined * spatial.reshape(1, -1, 1, 1)
    grad_spatial = (grad_combined * range_k).sum((0, 2, 3))
    sigma0 = sigma_s.reshape(())
    grad_sigma = (grad_spatial * spatial * sq_dist).sum() / sigma0**3
    grad_keys, grad_temperature = torch.ops.mmfeatup.range_kernel_backward(
        grad_range, range_k, keys_s, tau_s, radius)
    needs = ctx.needs_input_grad
    return (grad_source if needs[0] else None,
            grad_keys.to(keys.dtype) if needs[1] else None,
            grad_temperature.to(temperature.dtype) if needs[2] else None,
            grad_sigma.reshape(sigma.shape).to(sigma.dtype) if needs[3] else None, None)


def _no_double_backward(forward_op: str):
    """Autograd of a backward op (``adaptive_conv_backward``, ``range_kernel_backward``):
    differentiating it (double backward: ``create_graph=True`` and a second backward,
    ``gradgradcheck``) raises instead of PyTorch's default for an op without autograd,
    which warns and returns zero gradients."""

    def backward(ctx: Any, *grads: Any) -> Tuple[Optional[Tensor], ...]:
        raise NotImplementedError(
            f'mmfeatup::{forward_op}_backward (the backward of the compiled mmfeatup ops): '
            'double backward (differentiating a gradient of the compiled ops, e.g. '
            'create_graph=True then a second backward, or gradgradcheck) is not '
            'implemented; use the pure-PyTorch reference ops '
            '(MMFEATUP_OPS_BACKEND=reference) for higher-order gradients')

    return backward


def _no_setup(ctx: Any, inputs: Sequence[Any], output: Any) -> None:
    pass


def register_python_parts() -> None:
    """Register the fake kernels and autograd of every op (idempotent).

    Requires the compiled library (``import mmfeatup._ext``) to be loaded.
    """
    global _REGISTERED
    if _REGISTERED:
        return
    fakes = {
        'mmfeatup::adaptive_conv': _adaptive_conv_fake,
        'mmfeatup::adaptive_conv_backward': _adaptive_conv_backward_fake,
        'mmfeatup::range_kernel': _range_kernel_fake,
        'mmfeatup::range_kernel_backward': _range_kernel_backward_fake,
        'mmfeatup::jbu_upsample': _jbu_upsample_fake,
    }
    for name, fake in fakes.items():
        torch.library.register_fake(name, fake)
    torch.library.register_autograd(
        'mmfeatup::adaptive_conv', _adaptive_conv_backward, setup_context=_adaptive_conv_setup)
    torch.library.register_autograd(
        'mmfeatup::range_kernel', _range_kernel_backward, setup_context=_range_kernel_setup)
    torch.library.register_autograd(
        'mmfeatup::jbu_upsample', _jbu_upsample_backward, setup_context=_jbu_upsample_setup)
    for forward_op in ('adaptive_conv', 'range_kernel'):
        torch.library.register_autograd(f'mmfeatup::{forward_op}_backward',
                                        _no_double_backward(forward_op), setup_context=_no_setup)
    _REGISTERED = True
