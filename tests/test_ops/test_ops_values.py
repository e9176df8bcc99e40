"""The compiled ops against the float64 references: values and gradcheck."""
import pytest
import torch
import torch.nn.functional as F

from mmfeatup.ops import adaptive_conv, jbu_upsample, range_kernel
from mmfeatup.ops.reference import (adaptive_conv_reference, adaptive_conv_unfold_reference,
                                    jbu_upsample_reference, range_kernel_reference,
                                    range_kernel_unfold_reference)


def _inputs(batch, channels, height, width, radius, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    taps = (2 * radius + 1)**2
    source = torch.randn(batch, channels, height + 2 * radius, width + 2 * radius,
                         generator=gen, dtype=dtype)
    weights = torch.randn(batch, taps, height, width, generator=gen, dtype=dtype)
    return source, weights


# (B, C, H, W, r): odd, non-square shapes, C=1 and C=517, r = 1..5.
VALUE_CASES = [(3, 1, 7, 11, 1), (3, 517, 9, 6, 2), (1, 5, 13, 8, 3), (2, 3, 6, 17, 4),
               (3, 2, 11, 7, 5)]


@pytest.mark.parametrize('batch,channels,height,width,radius', VALUE_CASES)
def test_adaptive_conv_matches_reference(compiled_ops, batch, channels, height, width, radius):
    source, weights = _inputs(batch, channels, height, width, radius)
    out = compiled_ops.adaptive_conv(source, weights)
    expected = adaptive_conv_reference(source, weights)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(adaptive_conv_unfold_reference(source, weights), expected)
    # Public API, including the authors' [B, H, W, d, d] layout.
    diameter = 2 * radius + 1
    authors = weights.reshape(batch, diameter, diameter, height, width).permute(0, 3, 4, 1, 2)
    torch.testing.assert_close(adaptive_conv(source, authors), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('batch,channels,height,width,radius', VALUE_CASES)
def test_adaptive_conv_backward_matches_reference(compiled_ops, batch, channels, height, width,
                                                  radius):
    source, weights = _inputs(batch, channels, height, width, radius, seed=1)
    grad = torch.randn(batch, channels, height, width, dtype=torch.float64)
    grad_source, grad_weights = compiled_ops.adaptive_conv_backward(grad, source, weights)
    source.requires_grad_(True)
    weights.requires_grad_(True)
    expected = torch.autograd.grad(adaptive_conv_reference(source, weights), (source, weights),
                                   grad)
    torch.testing.assert_close(grad_source, expected[0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad_weights, expected[1], rtol=1e-10, atol=1e-10)
    # Every tap receives its own gradient (the reference CUDA code drops most taps).
    assert (grad_weights.abs().amax(dim=(0, 2, 3)) > 0).all()


# (B, D, H, W, r): radius up to min(H, W) - 1.
RANGE_CASES = [(3, 1, 7, 11, 1), (3, 32, 9, 6, 2), (1, 5, 13, 8, 3), (2, 3, 6, 17, 4),
               (3, 2, 11, 7, 5), (1, 4, 3, 3, 2)]


@pytest.mark.parametrize('batch,depth,height,width,radius', RANGE_CASES)
def test_range_kernel_matches_reference(compiled_ops, batch, depth, height, width, radius):
    gen = torch.Generator().manual_seed(2)
    keys = torch.randn(batch, depth, height, width, generator=gen, dtype=torch.float64)
    tau = torch.tensor(0.7, dtype=torch.float64)
    out = compiled_ops.range_kernel(keys, tau, radius)
    expected = range_kernel_reference(keys, tau, radius)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(range_kernel_unfold_reference(keys, tau, radius), expected)
    torch.testing.assert_close(out.sum(1), torch.ones_like(out[:, 0]))
    # Backward against autograd through the reference.
    grad = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    grad_keys, grad_tau = compiled_ops.range_kernel_backward(grad, out, keys, tau, radius)
    keys_ref, tau_ref = keys.clone().requires_grad_(True), tau.clone().requires_grad_(True)
    expected_grads = torch.autograd.grad(range_kernel_reference(keys_ref, tau_ref, radius),
                                         (keys_ref, tau_ref), grad)
    torch.testing.assert_close(grad_keys, expected_grads[0], rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(grad_tau, expected_grads[1], rtol=1e-9, atol=1e-11)
    # Public API with a 1-element temperature.
    torch.testing.assert_close(range_kernel(keys, tau.reshape(1), radius), expected)


@pytest.mark.parametrize('batch,channels,depth,height,width,radius',
                         [(3, 1, 4, 7, 11, 1), (2, 517, 8, 9, 6, 3), (3, 5, 3, 11, 7, 5)])
def test_jbu_upsample_matches_reference(compiled_ops, batch, channels, depth, height, width,
                                        radius):
    gen = torch.Generator().manual_seed(3)
    source = torch.randn(batch, channels, height + 2 * radius, width + 2 * radius,
                         generator=gen, dtype=torch.float64)
    keys = torch.randn(batch, depth, height, width, generator=gen, dtype=torch.float64)
    tau, sigma = torch.tensor(1.3, dtype=torch.float64), torch.tensor(0.8, dtype=torch.float64)
    expected = jbu_upsample_reference(source, keys, tau, sigma, radius)
    out = compiled_ops.jbu_upsample(source, keys, tau, sigma, radius)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(jbu_upsample(source, keys, tau, sigma, radius), expected,
                               rtol=1e-10, atol=1e-10)


def test_jbu_upsample_normalisation_floor(compiled_ops):
    """With a vanishing spatial kernel the 1e-7 floor (not a renormalisation) applies."""
    keys = torch.randn(1, 2, 5, 6, dtype=torch.float64)
    source = torch.randn(1, 3, 7, 8, dtype=torch.float64)
    tau, sigma = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.05, dtype=torch.float64)
    out = compiled_ops.jbu_upsample(source, keys, tau, sigma, 1)
    expected = jbu_upsample_reference(source, keys, tau, sigma, 1)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)


def test_gradcheck_adaptive_conv(compiled_ops):
    source, weights = _inputs(2, 3, 4, 5, 1, seed=4)
    source.requires_grad_(True)
    weights.requires_grad_(True)
    assert torch.autograd.gradcheck(compiled_ops.adaptive_conv, (source, weights))
    source2, weights2 = _inputs(1, 2, 3, 2, 2, seed=5)
    assert torch.autograd.gradcheck(adaptive_conv, (source2.requires_grad_(True),
                                                    weights2.requires_grad_(True)))


@pytest.mark.parametrize('radius,height,width', [(1, 4, 5), (2, 3, 4)])
def test_gradcheck_range_kernel(compiled_ops, radius, height, width):
    keys = torch.randn(2, 3, height, width, dtype=torch.float64, requires_grad=True)
    tau = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda k, t: compiled_ops.range_kernel(k, t, radius),
                                    (keys, tau))


def test_gradcheck_jbu_upsample(compiled_ops):
    radius = 1
    source = torch.randn(2, 2, 3 + 2 * radius, 4 + 2 * radius, dtype=torch.float64,
                         requires_grad=True)
    keys = torch.randn(2, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    tau = torch.tensor(1.1, dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda s, k, t, g: compiled_ops.jbu_upsample(s, k, t, g, radius),
        (source, keys, tau, sigma))


def test_float32_close_to_float64(compiled_ops):
    source, weights = _inputs(2, 33, 10, 9, 3, seed=6)
    keys = torch.randn(2, 32, 10, 9, dtype=torch.float64)
    tau = torch.tensor(0.5, dtype=torch.float64)
    kernel64 = compiled_ops.range_kernel(keys, tau, 3)
    kernel32 = compiled_ops.range_kernel(keys.float(), tau.float(), 3)
    torch.testing.assert_close(kernel32.double(), kernel64, rtol=1e-4, atol=1e-6)
    out32 = compiled_ops.adaptive_conv(source.float(), weights.float())
    torch.testing.assert_close(out32.double(), adaptive_conv_reference(source, weights),
                               rtol=1e-4, atol=1e-4)


def test_non_contiguous_inputs_are_handled(compiled_ops):
    source, weights = _inputs(2, 4, 6, 5, 1, seed=7)
    source_t = source.transpose(2, 3).contiguous().transpose(2, 3)
    weights_cl = weights.contiguous(memory_format=torch.channels_last)
    assert not source_t.is_contiguous() and not weights_cl.is_contiguous()
    torch.testing.assert_close(adaptive_conv(source_t, weights_cl),
                               adaptive_conv_reference(source, weights))
    keys = torch.randn(2, 6, 5, 3, dtype=torch.float64).permute(0, 3, 1, 2)
    tau = torch.tensor(1.0, dtype=torch.float64)
    torch.testing.assert_close(range_kernel(keys, tau, 2), range_kernel_reference(keys, tau, 2))


def test_channels_last_inputs_and_cpu_output_layout(compiled_ops):
    """CPU kernels read channels-last inputs without a copy and write channels-last
    outputs (what the fake kernels state); values and gradients are unchanged."""
    source, weights = _inputs(2, 37, 7, 9, 2, seed=8)
    source_cl = source.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    out = adaptive_conv(source_cl, weights)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, adaptive_conv_reference(source, weights), rtol=1e-10,
                               atol=1e-10)
    grad = torch.randn_like(out)
    source_ref = source.clone().requires_grad_(True)
    expected, = torch.autograd.grad(adaptive_conv_reference(source_ref, weights), source_ref,
                                    grad)
    got, = torch.autograd.grad(out, source_cl, grad)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
    keys = torch.randn(2, 6, 7, 9, dtype=torch.float64)
    tau, sigma = torch.tensor(0.7, dtype=torch.float64), torch.tensor(0.9, dtype=torch.float64)
    keys_cl = keys.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    kernel = range_kernel(keys_cl, tau, 2)
    keys_ref = keys.clone().requires_grad_(True)
    kernel_ref = range_kernel_reference(keys_ref, tau, 2)
    torch.testing.assert_close(kernel, kernel_ref, rtol=1e-10, atol=1e-10)
    grad_kernel = torch.randn_like(kernel_ref)
    torch.testing.assert_close(torch.autograd.grad(kernel, keys_cl, grad_kernel)[0],
                               torch.autograd.grad(kernel_ref, keys_ref, grad_kernel)[0],
                               rtol=1e-10, atol=1e-10)
    fused = jbu_upsample(source.contiguous(memory_format=torch.channels_last), keys, tau, sigma, 2)
    assert fused.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fused, jbu_upsample_reference(source, keys, tau, sigma, 2),
                               rtol=1e-10, atol=1e-10)


def test_reflect_padding_matches_torch(compiled_ops):
    """The in-op padding is torch's 'reflect' (not 'replicate'/'symmetric')."""
    keys = torch.randn(1, 2, 4, 3, dtype=torch.float64)
    tau = torch.tensor(1.0, dtype=torch.float64)
    padded = F.pad(keys, [2] * 4, mode='reflect')
    logits = torch.stack([(padded[:, :, i:i + 4, j:j + 3] * keys).sum(1) for i in range(5)
                          for j in range(5)], 1)
    torch.testing.assert_close(compiled_ops.range_kernel(keys, tau, 2), logits.softmax(1))
