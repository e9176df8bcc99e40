"""CUDA kernels (marked ``cuda``; skipped visibly without a GPU)."""
import pytest
import torch

from mmfeatup.ops import adaptive_conv, bicubic_adaptive_conv, jbu_upsample, range_kernel
from mmfeatup.ops.reference import (adaptive_conv_reference, bicubic_adaptive_conv_reference,
                                    jbu_upsample_reference, range_kernel_reference)

pytestmark = pytest.mark.cuda

LOW_PRECISION = [(torch.float16, 2e-3, 2e-3), (torch.bfloat16, 2e-2, 2e-2),
                 (torch.float32, 1e-5, 1e-5)]


@pytest.fixture
def cuda_ops(compiled_ops):
    from mmfeatup.ops import loader
    if not loader.use_compiled('cuda'):
        pytest.fail('mmfeatup._ext was built without CUDA kernels on a machine with a GPU')
    return compiled_ops


def _conv_inputs(dtype, batch=3, channels=37, height=13, width=10, radius=3):
    gen = torch.Generator().manual_seed(0)
    source = torch.randn(batch, channels, height + 2 * radius, width + 2 * radius, generator=gen)
    weights = torch.rand(batch, (2 * radius + 1)**2, height, width, generator=gen)
    weights = weights / weights.sum(1, keepdim=True)
    return source.to(dtype).cuda(), weights.to(dtype).cuda()


def test_float64_matches_reference(cuda_ops):
    source, weights = _conv_inputs(torch.float64)
    torch.testing.assert_close(cuda_ops.adaptive_conv(source, weights),
                               adaptive_conv_reference(source, weights))
    keys = torch.randn(3, 8, 13, 10, dtype=torch.float64, device='cuda')
    tau = torch.tensor(0.7, dtype=torch.float64, device='cuda')
    for radius in range(1, 6):
        torch.testing.assert_close(cuda_ops.range_kernel(keys, tau, radius),
                                   range_kernel_reference(keys, tau, radius))


def test_gradcheck_cuda(cuda_ops):
    source, weights = _conv_inputs(torch.float64, 2, 3, 4, 5, 1)
    assert torch.autograd.gradcheck(cuda_ops.adaptive_conv,
                                    (source.requires_grad_(), weights.requires_grad_()))
    keys = torch.randn(2, 3, 4, 5, dtype=torch.float64, device='cuda', requires_grad=True)
    tau = torch.tensor(0.9, dtype=torch.float64, device='cuda', requires_grad=True)
    assert torch.autograd.gradcheck(lambda k, t: cuda_ops.range_kernel(k, t, 2), (keys, tau))


@pytest.mark.parametrize('dtype,rtol,atol', LOW_PRECISION)
def test_adaptive_conv_low_precision(cuda_ops, dtype, rtol, atol):
    source, weights = _conv_inputs(dtype)
    out = adaptive_conv(source, weights)
    assert out.dtype == dtype
    expected = adaptive_conv_reference(source.float(), weights.float())
    torch.testing.assert_close(out.float(), expected, rtol=rtol * 10, atol=atol * 10)
    grad = torch.randn_like(out)
    grad_source, grad_weights = cuda_ops.adaptive_conv_backward(grad, source, weights)
    src32, w32 = source.float().requires_grad_(), weights.float().requires_grad_()
    exp_source, exp_weights = torch.autograd.grad(adaptive_conv_reference(src32, w32),
                                                  (src32, w32), grad.float())
    scale = exp_weights.abs().max().item()
    torch.testing.assert_close(grad_source.float(), exp_source, rtol=rtol * 10, atol=atol * 10)
    torch.testing.assert_close(grad_weights.float() / scale, exp_weights / scale,
                               rtol=rtol * 10, atol=atol * 10)


@pytest.mark.parametrize('dtype,rtol,atol', LOW_PRECISION)
def test_range_kernel_and_jbu_low_precision(cuda_ops, dtype, rtol, atol):
    gen = torch.Generator().manual_seed(1)
    keys32 = torch.randn(2, 32, 12, 9, generator=gen).cuda()
    tau32 = torch.tensor(0.5, device='cuda')
    keys, tau = keys32.to(dtype), tau32.to(dtype)
    out = range_kernel(keys, tau, 3)
    assert out.dtype == dtype
    expected = range_kernel_reference(keys.float(), tau.float(), 3)
    torch.testing.assert_close(out.float(), expected, rtol=rtol * 10, atol=atol * 10)
    source = torch.randn(2, 16, 18, 15, generator=gen).cuda().to(dtype)
    sigma = torch.tensor(1.0, device='cuda', dtype=dtype)
    fused = jbu_upsample(source, keys, tau, sigma, 3)
    expected = jbu_upsample_reference(source.float(), keys.float(), tau.float(), sigma.float(), 3)
    torch.testing.assert_close(fused.float(), expected, rtol=rtol * 10, atol=atol * 10)


def test_filter_gradient_every_tap(cuda_ops):
    """Each tap's filter gradient equals the CPU one (the reference CUDA code fills 7 of 49)."""
    source, weights = _conv_inputs(torch.float32, radius=3)
    grad = torch.randn(source.shape[0], source.shape[1], weights.shape[2], weights.shape[3],
                       device='cuda')
    _, grad_weights = cuda_ops.adaptive_conv_backward(grad, source, weights)
    _, expected = cuda_ops.adaptive_conv_backward(grad.cpu(), source.cpu(), weights.cpu())
    assert (grad_weights.abs().amax(dim=(0, 2, 3)) > 0).all()
    torch.testing.assert_close(grad_weights.cpu(), expected, rtol=1e-4, atol=1e-4)


def test_cuda_is_deterministic(cuda_ops):
    source, weights = _conv_inputs(torch.float32)
    grad = torch.randn(3, 37, 13, 10, device='cuda')
    first = cuda_ops.adaptive_conv_backward(grad, source, weights)
    second = cuda_ops.adaptive_conv_backward(grad, source, weights)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_current_stream_is_used(cuda_ops):
    source, weights = _conv_inputs(torch.float32)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        out = cuda_ops.adaptive_conv(source, weights)
    stream.synchronize()
    torch.testing.assert_close(out, adaptive_conv_reference(source, weights))


# (B, C, h, w, H, W, r): x2 and odd ratios, non-square, C = 1, radius 1..5, downscaling.
BICUBIC_CASES = [(2, 3, 5, 7, 10, 14, 1), (1, 1, 4, 4, 8, 8, 2), (2, 5, 7, 6, 13, 17, 3),
                 (1, 4, 2, 3, 11, 12, 5), (1, 2, 9, 8, 5, 6, 1)]


@pytest.mark.parametrize('case', BICUBIC_CASES, ids=str)
def test_bicubic_adaptive_conv_float64_and_gradients(cuda_ops, case):
    batch, channels, h, w, height, width, radius = case
    gen = torch.Generator().manual_seed(2)
    source = torch.randn(batch, channels, h, w, generator=gen, dtype=torch.float64).cuda()
    weights = torch.randn(batch, (2 * radius + 1)**2, height, width, generator=gen,
                          dtype=torch.float64).cuda()
    source.requires_grad_()
    weights.requires_grad_()
    out = cuda_ops.bicubic_adaptive_conv(source, weights)
    expected = bicubic_adaptive_conv_reference(source, weights)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(out)
    ours = torch.autograd.grad(out, (source, weights), grad)
    ref = torch.autograd.grad(expected, (source, weights), grad)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    cpu = cuda_ops.bicubic_adaptive_conv(source.detach().cpu(), weights.detach().cpu())
    torch.testing.assert_close(out.detach().cpu(), cpu, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('dtype,rtol,atol', LOW_PRECISION)
def test_bicubic_adaptive_conv_low_precision(cuda_ops, dtype, rtol, atol):
    gen = torch.Generator().manual_seed(3)
    source = torch.randn(2, 24, 9, 7, generator=gen).cuda().to(dtype)
    weights = torch.rand(2, 49, 18, 14, generator=gen).cuda()
    weights = (weights / weights.sum(1, keepdim=True)).to(dtype)
    out = bicubic_adaptive_conv(source, weights)
    assert out.dtype == dtype
    expected = bicubic_adaptive_conv_reference(source.float(), weights.float())
    torch.testing.assert_close(out.float(), expected, rtol=rtol * 10, atol=atol * 10)
