"""Value and autograd checks: CPU against the device, opcheck, gradcheck, gradgradcheck."""
from __future__ import annotations

import torch

from .common import _gen, make_inputs, maxrel, run_op

# (B, C, D, H, W, r): odd, non-square, batch > 1, C = 1, radius 1..5.
CASES = [(3, 1, 1, 7, 11, 1), (2, 37, 8, 9, 6, 2), (1, 5, 3, 13, 8, 3), (2, 3, 16, 6, 17, 4),
         (3, 2, 4, 11, 7, 5)]
# (dtype, forward tolerance, backward tolerance) on maxrel against float32 CPU.
DTYPES = [(torch.float32, 1e-5, 1e-4), (torch.float16, 3e-3, 6e-3),
          (torch.bfloat16, 2e-2, 4e-2)]


def check_cpu_vs_device(ops, device, op, dtype, fwd_tol, bwd_tol, case):
    batch, channels, depth, height, width, radius = case
    base = make_inputs(batch, channels, depth, height, width, radius, seed=radius)
    rounded = {k: v.to(dtype) for k, v in base.items()}
    cpu = {k: v.float() for k, v in rounded.items()}
    dev = {k: v.to(device) for k, v in rounded.items()}
    out_cpu, grads_cpu = run_op(ops, op, cpu, radius)
    out_dev, grads_dev = run_op(ops, op, dev, radius)
    if out_dev.dtype != dtype or any(g.dtype != dtype for g in grads_dev.values()):
        raise AssertionError('output/gradient dtype differs from the input dtype')
    fwd = maxrel(out_dev, out_cpu)
    bwd = {k: maxrel(grads_dev[k], grads_cpu[k]) for k in grads_cpu}
    detail = (f'shape(B,C,D,H,W)={case[:5]} fwd={fwd:.1e} '
              + ' '.join(f'd{k}={v:.1e}' for k, v in bwd.items())
              + f' tol(fwd,bwd)=({fwd_tol:.0e},{bwd_tol:.0e}) [maxrel vs CPU float32]')
    if fwd > fwd_tol or max(bwd.values()) > bwd_tol:
        raise AssertionError(detail)
    return detail


def check_extension(ops, device):
    if device.type == 'cuda' and not ops.with_cuda:
        raise AssertionError('mmfeatup._ext was built without CUDA kernels')
    info = f'torch={torch.__version__} cuda={torch.version.cuda} with_cuda={ops.with_cuda}'
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        info += (f' device="{props.name}" cc={props.major}.{props.minor} '
                 f'memory={props.total_memory / 2**30:.0f}GiB')
    return info


def opcheck_args(op, dtype, device, requires_grad):
    f = dict(dtype=dtype, device=device)
    gen = _gen(0)
    keys = (torch.randn(2, 3, 5, 6, generator=gen) * 0.7).to(**f)
    tau = torch.tensor(0.8).to(**f)
    sigma = torch.tensor(1.2).to(**f)
    source = torch.randn(2, 4, 9, 10, generator=gen).to(**f)
    weights = torch.randn(2, 25, 5, 6, generator=gen).to(**f)
    low = torch.randn(2, 4, 3, 4, generator=gen).to(**f)
    if op == 'adaptive_conv':
        args = [source, weights]
    elif op == 'bicubic_adaptive_conv':
        args = [low, weights]
    elif op == 'bicubic_adaptive_conv_backward':
        return (torch.randn(2, 4, 5, 6, generator=gen).to(**f), low, weights)
    elif op == 'range_kernel':
        args = [keys, tau]
    elif op == 'jbu_upsample':
        args = [source, keys, tau, sigma]
    elif op == 'adaptive_conv_backward':
        return (torch.randn(2, 4, 5, 6, generator=gen).to(**f), source, weights)
    elif op == 'jbu_upsample_backward':
        return (torch.randn(2, 4, 5, 6, generator=gen).to(**f), source, keys, tau, sigma, 2)
    else:  # range_kernel_backward
        out = torch.ops.mmfeatup.range_kernel(keys, tau, 2)
        return (torch.randn(out.shape, generator=gen).to(**f), out, keys, tau, 2)
    args = [a.requires_grad_(requires_grad) for a in args]
    return tuple(args) + ((2, ) if not op.endswith('adaptive_conv') else ())


def check_opcheck(op, dtype, device):
    grads = [False, True] if not op.endswith('backward') else [False]
    for requires_grad in grads:
        result = torch.library.opcheck(getattr(torch.ops.mmfeatup, op),
                                       opcheck_args(op, dtype, device, requires_grad))
        bad = {k: v for k, v in result.items() if v != 'SUCCESS'}
        if bad:
            raise AssertionError(str(bad))
    return f'{str(dtype)[6:]} requires_grad={grads}'


def f64_case(ops, op, device, shape, seed):
    """(fn, float64 inputs requiring grad) of one differentiable op for gradcheck."""
    radius = shape[-1]
    t = make_inputs(*shape, seed=seed)
    f64 = {k: v.double().to(device).requires_grad_(True) for k, v in t.items()}
    if op == 'adaptive_conv':
        return ops.adaptive_conv, (f64['source'], f64['weights'])
    if op == 'bicubic_adaptive_conv':
        return ops.bicubic_adaptive_conv, (f64['low'], f64['weights'])
    if op == 'range_kernel':
        return (lambda k, tau: ops.range_kernel(k, tau, radius)), (f64['keys'], f64['tau'])
    return ((lambda s, k, tau, sig: ops.jbu_upsample(s, k, tau, sig, radius)),
            (f64['source'], f64['keys'], f64['tau'], f64['sigma']))


def check_gradcheck(ops, op, device, shape):
    if not torch.autograd.gradcheck(*f64_case(ops, op, device, shape, seed=11)):
        raise AssertionError('gradcheck returned False')
    return f'float64 shape(B,C,D,H,W)={shape[:5]} r={shape[-1]}'


def check_double_backward(ops, op, device):
    """float64 gradgradcheck (double backward: autograd of the C++ backward ops) on
    non-square shapes, batch > 1, C = 1, radius 1..3."""
    done = []
    for shape in ((2, 1, 2, 4, 5, 1), (1, 2, 1, 5, 3, 2), (2, 1, 2, 4, 5, 3)):
        fn, args = f64_case(ops, op, device, shape, seed=12)
        if not torch.autograd.gradgradcheck(fn, args, fast_mode=shape[-1] > 1):
            raise AssertionError(f'gradgradcheck returned False for shape {shape}')
        done.append(f'r={shape[-1]}')
    return f'float64 gradgradcheck passed ({", ".join(done)})'


def check_backward_ops(device):
    """gradcheck of the backward ops called directly (their own autograd)."""
    t = make_inputs(2, 2, 3, 3, 4, 1, seed=14)
    f64 = {k: v.double().to(device).requires_grad_(True) for k, v in t.items()}
    ops = torch.ops.mmfeatup
    output = ops.range_kernel(f64['keys'].detach(), f64['tau'].detach(), 1).requires_grad_(True)
    cases = [(ops.adaptive_conv_backward, (f64['grad_feature'], f64['source'], f64['weights'])),
             (lambda g, o, k, tau: ops.range_kernel_backward(g, o, k, tau, 1),
              (f64['grad_range'], output, f64['keys'], f64['tau'])),
             (lambda g, s, k, tau, sig: ops.jbu_upsample_backward(g, s, k, tau, sig, 1),
              (f64['grad_feature'], f64['source'], f64['keys'], f64['tau'], f64['sigma'])),
             (ops.bicubic_adaptive_conv_backward, (f64['grad_feature'], f64['low'],
                                                   f64['weights']))]
    for fn, args in cases:
        if not torch.autograd.gradcheck(fn, args, fast_mode=True):
            raise AssertionError('gradcheck returned False')
    return ('adaptive_conv_backward, range_kernel_backward, jbu_upsample_backward, '
            'bicubic_adaptive_conv_backward (float64)')


def minus_inf_keys(dtype):
    """3x3 keys (D = 1) where the centre pixel's first tap has a logit of -inf."""
    keys = torch.zeros(1, 1, 3, 3, dtype=dtype)
    if dtype == torch.float64:
        keys[0, 0, 1, 1], keys[0, 0, 0, 0], tau = 1e100, -1e250, 1.0
    else:
        keys[0, 0, 1, 1], keys[0, 0, 0, 0], tau = 1e10, -1e18, 1e15
    return keys, torch.tensor(tau, dtype=dtype)


def check_minus_inf(ops, device, dtype):
    keys, tau = minus_inf_keys(dtype)
    source = torch.randn(1, 3, 5, 5, generator=_gen(13), dtype=dtype)
    sigma = torch.tensor(1.0, dtype=dtype)
    want_r = ops.range_kernel(keys, tau, 1)
    want_j = ops.jbu_upsample(source, keys, tau, sigma, 1)
    ref = ops.reference.range_kernel_reference(keys, tau, 1)
    if not torch.isfinite(want_r[0, :, 1, 1]).all() or not torch.isfinite(ref[0, :, 1, 1]).all():
        raise AssertionError('CPU op or reference is not finite at the test pixel')
    got_r = ops.range_kernel(keys.to(device), tau.to(device), 1)
    got_j = ops.jbu_upsample(source.to(device), keys.to(device), tau.to(device),
                             sigma.to(device), 1)
    if not torch.isfinite(got_r[0, :, 1, 1]).all() or not torch.isfinite(got_j[0, :, 1, 1]).all():
        raise AssertionError(f'{device.type} result is NaN at the pixel whose first logit is -inf')
    errors = (maxrel(got_r, want_r), maxrel(got_j, want_j))
    if max(errors) > 1e-6:
        raise AssertionError(f'{device.type} differs from CPU: {errors}')
    return f'{str(dtype)[6:]} range/jbu maxrel vs CPU={errors[0]:.1e}/{errors[1]:.1e} (NaN-aware)'


def check_low_precision_dtau(ops, device, dtype, rtol):
    """d(tau) of range_kernel and jbu_upsample in saturated windows against float64."""
    gen = _gen(0)
    keys = (torch.randn(2, 16, 12, 11, generator=gen) * 3).to(dtype)
    source = torch.randn(2, 5, 18, 17, generator=gen).to(dtype)
    grad_range = torch.randn(2, 49, 12, 11, generator=gen).to(dtype)
    grad_out = torch.randn(2, 5, 12, 11, generator=gen).to(dtype)
    tau, sigma = torch.tensor(0.5).to(dtype), torch.tensor(0.9).to(dtype)

    def dtau(work_dtype):
        k, t, s, src = (x.to(device=device, dtype=work_dtype).requires_grad_(True)
                        for x in (keys, tau, sigma, source))
        r = torch.autograd.grad(ops.range_kernel(k, t, 3), t,
                                grad_range.to(device=device, dtype=work_dtype))[0]
        j = torch.autograd.grad(ops.jbu_upsample(src, k, t, s, 3), t,
                                grad_out.to(device=device, dtype=work_dtype))[0]
        return r, j

    exact = dtau(torch.float64)
    got = dtau(dtype)
    errors = [abs(g.double().item() - e.item()) / abs(e.item()) for g, e in zip(got, exact)]
    detail = (f'range dtau={got[0].item():.4g} (f64 {exact[0].item():.4g}, rel {errors[0]:.1e}) '
              f'jbu dtau={got[1].item():.4g} (f64 {exact[1].item():.4g}, rel {errors[1]:.1e}) '
              f'tol(range,jbu)=({rtol:.0e},{2 * rtol:.0e})')
    if errors[0] > rtol or errors[1] > 2 * rtol:
        raise AssertionError(detail)
    return detail


def check_minus_inf_cpu(ops, dtype):
    """CPU-only variant: the CPU op equals the reference where logits are -inf."""
    keys, tau = minus_inf_keys(dtype)
    got = ops.range_kernel(keys, tau, 1)
    want = ops.reference.range_kernel_reference(keys, tau, 1)
    if not torch.isfinite(got[0, :, 1, 1]).all():
        raise AssertionError('CPU op is NaN at the pixel whose first logit is -inf')
    error = maxrel(got, want)
    if error > 1e-6:
        raise AssertionError(f'CPU op differs from the reference: {error}')
    return f'{str(dtype)[6:]} maxrel vs reference={error:.1e}'
