"""Autograd registered by the library itself (C++, Autograd dispatch key): every route to
torch.ops.mmfeatup.* is differentiable, to the second order (gradgradcheck), and the fused
jbu_upsample_backward equals autograd through the reference."""
import glob
import os
import subprocess
import sys

import pytest
import torch

import mmfeatup
from mmfeatup.ops.reference import (adaptive_conv_reference, jbu_upsample_reference,
                                    range_kernel_reference)

F64 = dict(dtype=torch.float64, requires_grad=True)

# (B, C, D, H, W, r): non-square, batch > 1, C = 1 and D = 1, radius 1..3.
SHAPES = [(2, 1, 3, 4, 5, 1), (1, 2, 1, 5, 3, 2), (2, 1, 2, 4, 5, 3)]


def _inputs(batch, channels, depth, height, width, radius, seed=0):
    gen = torch.Generator().manual_seed(seed)
    taps = (2 * radius + 1)**2
    rand = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64)  # noqa: E731
    source = rand(batch, channels, height + 2 * radius, width + 2 * radius)
    weights = rand(batch, taps, height, width)
    keys = rand(batch, depth, height, width)
    tau, sigma = torch.tensor(0.9, dtype=torch.float64), torch.tensor(1.1, dtype=torch.float64)
    return [t.requires_grad_(True) for t in (source, weights, keys, tau, sigma)]


@pytest.mark.parametrize('shape', SHAPES, ids=str)
def test_gradgradcheck_adaptive_conv(compiled_ops, shape):
    source, weights, *_ = _inputs(*shape)
    assert torch.autograd.gradgradcheck(compiled_ops.adaptive_conv, (source, weights))


@pytest.mark.parametrize('shape', SHAPES, ids=str)
def test_gradgradcheck_range_kernel(compiled_ops, shape):
    _, _, keys, tau, _ = _inputs(*shape, seed=1)
    radius = shape[-1]
    assert torch.autograd.gradgradcheck(
        lambda k, t: compiled_ops.range_kernel(k, t, radius), (keys, tau), fast_mode=True)


@pytest.mark.parametrize('shape', SHAPES, ids=str)
def test_gradgradcheck_jbu_upsample(compiled_ops, shape):
    source, _, keys, tau, sigma = _inputs(*shape, seed=2)
    radius = shape[-1]
    assert torch.autograd.gradgradcheck(
        lambda s, k, t, g: compiled_ops.jbu_upsample(s, k, t, g, radius),
        (source, keys, tau, sigma), fast_mode=True)


def test_double_backward_matches_reference(compiled_ops):
    """The Hessian-vector products of all three ops equal those of the references."""
    source, weights, keys, tau, sigma = _inputs(2, 3, 2, 5, 4, 2, seed=3)
    cases = [(compiled_ops.adaptive_conv, adaptive_conv_reference, (source, weights)),
             (lambda k, t: compiled_ops.range_kernel(k, t, 2),
              lambda k, t: range_kernel_reference(k, t, 2), (keys, tau)),
             (lambda *a: compiled_ops.jbu_upsample(*a, 2),
              lambda *a: jbu_upsample_reference(*a, 2), (source, keys, tau, sigma))]
    for op, reference, args in cases:
        results = []
        for fn in (op, reference):
            grads = torch.autograd.grad(fn(*args).square().sum(), args, create_graph=True)
            second = torch.autograd.grad(sum((g * g).sum() for g in grads), args)
            results.append(grads + second)
        for got, want in zip(*results):
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-10)


def test_backward_ops_called_directly_are_differentiable(compiled_ops):
    """The backward ops have autograd too (first order here: gradcheck)."""
    source, weights, keys, tau, sigma = _inputs(2, 2, 3, 3, 4, 1, seed=4)
    grad_out = torch.randn(2, 2, 3, 4, **F64)
    assert torch.autograd.gradcheck(compiled_ops.adaptive_conv_backward,
                                    (grad_out, source, weights))
    grad_range = torch.randn(2, 9, 3, 4, **F64)
    output = compiled_ops.range_kernel(keys.detach(), tau.detach(), 1).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda g, o, k, t: compiled_ops.range_kernel_backward(g, o, k, t, 1),
        (grad_range, output, keys, tau), fast_mode=True)
    assert torch.autograd.gradcheck(
        lambda g, s, k, t, sg: compiled_ops.jbu_upsample_backward(g, s, k, t, sg, 1),
        (grad_out, source, keys, tau, sigma), fast_mode=True)


@pytest.mark.parametrize('radius,sigma_value', [(1, 1.1), (3, 0.7), (2, 0.05)])
def test_fused_jbu_backward_matches_reference(compiled_ops, radius, sigma_value):
    """jbu_upsample_backward (the fused CPU kernels; sigma 0.05: the 1e-7 floor applies)
    against autograd through the float64 reference."""
    gen = torch.Generator().manual_seed(5)
    source = torch.randn(3, 5, 6 + 2 * radius, 9 + 2 * radius, generator=gen, dtype=torch.float64)
    keys = torch.randn(3, 4, 6, 9, generator=gen, dtype=torch.float64)
    tau = torch.tensor([1.3], dtype=torch.float64)
    sigma = torch.tensor(sigma_value, dtype=torch.float64)
    grad = torch.randn(3, 5, 6, 9, generator=gen, dtype=torch.float64)
    got = compiled_ops.jbu_upsample_backward(grad, source, keys, tau, sigma, radius)
    args = [t.clone().requires_grad_(True) for t in (source, keys, tau, sigma)]
    want = torch.autograd.grad(jbu_upsample_reference(*args, radius), args, grad)
    assert [g.shape for g in got] == [a.shape for a in args]
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-11)


_LOAD_LIBRARY_INPUTS = r'''
gen = torch.Generator().manual_seed(0)
f64 = dict(dtype=torch.float64)
source = torch.randn(2, 3, 7, 8, generator=gen, **f64).requires_grad_(True)
weights = torch.randn(2, 9, 5, 6, generator=gen, **f64).requires_grad_(True)
keys = torch.randn(2, 4, 5, 6, generator=gen, **f64).requires_grad_(True)
tau = torch.tensor(0.8, **f64).requires_grad_(True)
sigma = torch.tensor(1.2, **f64).requires_grad_(True)
'''

_LOAD_LIBRARY_ONLY = r'''
import sys, torch
torch.ops.load_library(sys.argv[1])
assert 'mmfeatup' not in sys.modules and 'mmfeatup._ext' not in sys.modules
exec(sys.argv[3])  # _LOAD_LIBRARY_INPUTS: source, weights, keys, tau, sigma
ops = torch.ops.mmfeatup
ops.adaptive_conv(source, weights).sum().backward()
ops.range_kernel(keys, tau, 1).square().sum().backward()
ops.jbu_upsample(source, keys, tau, sigma, 1).sum().backward()
torch.save({n: t.grad for n, t in dict(source=source, weights=weights, keys=keys, tau=tau,
                                        sigma=sigma).items()}, sys.argv[2])
'''


def test_load_library_alone_gives_gradients(compiled_ops, tmp_path):
    """A fresh process that only runs torch.ops.load_library(<_ext.so>) (mmfeatup never
    imported) gets gradients from all three ops equal to the references'."""
    library = glob.glob(os.path.join(os.path.dirname(mmfeatup.__file__), '_ext*.so'))
    library = library or [sys.modules['mmfeatup._ext'].__file__]
    out = tmp_path / 'grads.pt'
    result = subprocess.run([sys.executable, '-c', _LOAD_LIBRARY_ONLY, library[0], str(out),
                             _LOAD_LIBRARY_INPUTS],
                            capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    got = torch.load(out)
    scope = {'torch': torch}
    exec(_LOAD_LIBRARY_INPUTS, scope)
    source, weights, keys, tau, sigma = (scope[n] for n in ('source', 'weights', 'keys', 'tau',
                                                            'sigma'))
    adaptive_conv_reference(source, weights).sum().backward()
    range_kernel_reference(keys, tau, 1).square().sum().backward()
    jbu_upsample_reference(source, keys, tau, sigma, 1).sum().backward()
    want = dict(source=source, weights=weights, keys=keys, tau=tau, sigma=sigma)
    for name, tensor in want.items():
        torch.testing.assert_close(got[name], tensor.grad, rtol=1e-10, atol=1e-10, msg=name)
