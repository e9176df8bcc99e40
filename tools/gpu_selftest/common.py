"""Reporting (PASS/FAIL/SKIP lines), comparison and input helpers of the self-test."""
from __future__ import annotations

import math
import os
import time
import traceback

import torch

RESULTS = []


class Skip(Exception):
    """Raised by a check to report SKIP with a reason."""


def report(status, name, detail=''):
    print(f'{status} {name} {detail}'.rstrip(), flush=True)
    RESULTS.append(status)


def run_check(name, fn, *args, **kwargs):
    try:
        detail = fn(*args, **kwargs)
        report('PASS', name, detail or '')
    except Skip as skip:
        report('SKIP', name, str(skip))
    except Exception as error:  # noqa: BLE001 - every failure becomes one FAIL line
        message = ' '.join(str(error).split())[:300]
        report('FAIL', name, f'{type(error).__name__}: {message}')
        if os.environ.get('MMFEATUP_SELFTEST_TRACEBACK') == '1':
            traceback.print_exc()


def maxrel(got, want):
    """max |got - want| / max |want| (NaN-aware: NaN at the same places is equal)."""
    got, want = got.detach().double().cpu(), want.detach().double().cpu()
    both_nan = torch.isnan(got) & torch.isnan(want)
    diff = (got - want).abs().masked_fill(both_nan, 0)
    if torch.isnan(diff).any():
        return math.inf
    scale = want.masked_fill(~torch.isfinite(want), 0).abs().max().item()
    return diff.max().item() / max(scale, 1e-30)


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def make_inputs(batch, channels, depth, height, width, radius, seed=0):
    """float32 CPU inputs of all ops for one case (rounded to the test dtype later)."""
    gen = _gen(seed)
    taps = (2 * radius + 1)**2
    return dict(
        source=torch.randn(batch, channels, height + 2 * radius, width + 2 * radius,
                           generator=gen),
        weights=torch.rand(batch, taps, height, width, generator=gen) / taps * 2,
        keys=torch.randn(batch, depth, height, width, generator=gen) * 0.7,
        tau=torch.tensor(0.8),
        sigma=torch.tensor(1.1),
        grad_feature=torch.randn(batch, channels, height, width, generator=gen),
        grad_range=torch.randn(batch, taps, height, width, generator=gen),
        # low-resolution features for bicubic_adaptive_conv (drawn last: the others unchanged)
        low=torch.randn(batch, channels, max(1, height // 2), max(1, (width + 1) // 2),
                        generator=gen),
    )


def run_op(ops, op, tensors, radius):
    """Forward and the gradients of <out, grad> w.r.t. every differentiable input."""
    if op == 'adaptive_conv':
        names = ['source', 'weights']
    elif op == 'bicubic_adaptive_conv':
        names = ['low', 'weights']
    elif op == 'range_kernel':
        names = ['keys', 'tau']
    else:
        names = ['source', 'keys', 'tau', 'sigma']
    inputs = [tensors[n].detach().clone().requires_grad_(True) for n in names]
    if op == 'adaptive_conv':
        out = ops.adaptive_conv(*inputs)
        grad = tensors['grad_feature']
    elif op == 'bicubic_adaptive_conv':
        out = ops.bicubic_adaptive_conv(*inputs)
        grad = tensors['grad_feature']
    elif op == 'range_kernel':
        out = ops.range_kernel(*inputs, radius)
        grad = tensors['grad_range']
    else:
        out = ops.jbu_upsample(*inputs, radius)
        grad = tensors['grad_feature']
    grads = torch.autograd.grad(out, inputs, grad)
    return out.detach(), dict(zip(names, grads))


def time_it(fn, device, warmup=3, iters=10):
    for _ in range(warmup):
        fn()
    sync(device)
    if device.type == 'cuda':
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1e3 / iters
    begin = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - begin) / iters


def summary(exit_if_clean):
    counts = {s: RESULTS.count(s) for s in ('PASS', 'FAIL', 'SKIP')}
    print(f'SUMMARY {counts["PASS"]} passed, {counts["FAIL"]} failed, {counts["SKIP"]} skipped',
          flush=True)
    return 1 if counts['FAIL'] else exit_if_clean
