"""The large-index checks (n near and above 2^31), each in a child process with a timeout."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import torch

from .common import Skip, maxrel, sync

LARGE_CASES = [
    # name, (B, C, H, W), radius: output numel n
    ('int32_band', (25, 384, 448, 448), 1),  # n = 1,926,758,400 in (2^31 - 2^28, 2^31 - 1)
    ('int64', (28, 384, 448, 448), 1),  # n = 2,157,969,408 > 2^31
]


def large_bytes(shape, radius, elem=2):
    batch, channels, height, width = shape
    padded = batch * channels * (height + 2 * radius) * (width + 2 * radius)
    out = batch * channels * height * width
    return (2 * padded + 2 * out) * elem + batch * 9 * height * width * 4 * 3


def _same(a, b):
    """Bitwise equal, or within float16 rounding (the 64-bit-index instantiation may
    contract multiply-adds differently from the 32-bit one)."""
    return torch.equal(a, b) or maxrel(a, b) <= 1e-3


def run_large_case(ops, device, name, shape, radius):
    """adaptive_conv forward/backward and jbu_upsample forward on one large batch; each
    batch element is compared with the op run on that element alone (small n)."""
    batch, channels, height, width = shape
    dtype = torch.float16
    need = large_bytes(shape, radius)
    free, _ = torch.cuda.mem_get_info(device)
    if free < need * 1.2:
        raise Skip(f'needs ~{need / 2**30:.1f} GiB of GPU memory, {free / 2**30:.1f} GiB free')
    torch.manual_seed(0)
    taps = (2 * radius + 1)**2
    source = torch.randn(batch, channels, height + 2 * radius, width + 2 * radius,
                         device=device, dtype=dtype)
    weights = torch.rand(batch, taps, height, width, device=device, dtype=dtype) / taps
    start = time.time()
    out = ops.adaptive_conv(source, weights)
    sync(device)
    n = out.numel()
    for b in range(batch):
        if not _same(out[b:b + 1], ops.adaptive_conv(source[b:b + 1], weights[b:b + 1])):
            raise AssertionError(f'adaptive_conv forward differs at batch {b} (n={n})')
    grad = out  # any tensor of the output's shape
    grad_source, grad_weights = torch.ops.mmfeatup.adaptive_conv_backward(grad, source, weights)
    sync(device)
    for b in (0, batch // 2, batch - 1):
        gs, gw = torch.ops.mmfeatup.adaptive_conv_backward(grad[b:b + 1], source[b:b + 1],
                                                           weights[b:b + 1])
        if not (_same(grad_source[b:b + 1], gs) and _same(grad_weights[b:b + 1], gw)):
            raise AssertionError(f'adaptive_conv backward differs at batch {b} '
                                 f'(grad_input numel={grad_source.numel()})')
    del grad_source, grad_weights, grad, weights
    keys = torch.randn(batch, 4, height, width, device=device, dtype=dtype)
    tau, sigma = (torch.tensor(v, device=device, dtype=dtype) for v in (0.5, 1.0))
    fused = ops.jbu_upsample(source, keys, tau, sigma, radius)
    sync(device)
    for b in (0, batch // 2, batch - 1):
        single = ops.jbu_upsample(source[b:b + 1], keys[b:b + 1], tau, sigma, radius)
        if not _same(fused[b:b + 1], single):
            raise AssertionError(f'jbu_upsample differs at batch {b} (n={fused.numel()})')
    if not torch.isfinite(fused).all():
        raise AssertionError('jbu_upsample output has non-finite values')
    return (f'n={n} ({"<" if n < 2**31 else ">="} 2^31) adaptive_conv fwd+bwd, jbu fwd '
            f'float16, {time.time() - start:.1f} s')


def check_large_in_child(args, name):
    cmd = [sys.executable, os.path.dirname(os.path.abspath(__file__)), '--large-only', name]
    if args.ext:
        cmd += ['--ext', args.ext]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=args.large_timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f'did not finish in {args.large_timeout} s (a grid-stride loop '
                             'that overflows never ends)')
    lines = [line for line in result.stdout.splitlines() if line.split(' ')[0] in
             ('PASS', 'FAIL', 'SKIP')]
    if result.returncode != 0 or not lines:
        tail = ' '.join((result.stdout + result.stderr).split())[-300:]
        raise AssertionError(f'child exited {result.returncode}: {tail}')
    status, _, detail = lines[-1].split(' ', 2)[0], None, lines[-1].split(' ', 2)[-1]
    if status == 'SKIP':
        raise Skip(detail)
    if status == 'FAIL':
        raise AssertionError(detail)
    return detail
