"""Forward/backward times of each op against the memory-bandwidth floor."""
from __future__ import annotations

import math

import torch

from .common import make_inputs, time_it

def measure_bandwidth(device):
    numel = 2**28  # 1 GiB of float32
    src = torch.empty(numel, device=device, dtype=torch.float32).fill_(1)
    dst = torch.empty_like(src)
    seconds = time_it(lambda: dst.copy_(src), device, iters=10)
    return 2 * numel * 4 / seconds  # read + write


def check_timing(ops, device, dtype, size):
    batch, channels, depth, height, width, radius = size
    bandwidth = measure_bandwidth(device)
    elem = torch.finfo(dtype).bits // 8
    taps = (2 * radius + 1)**2
    t = make_inputs(batch, channels, depth, height, width, radius, seed=21)
    t = {k: v.to(device=device, dtype=dtype) for k, v in t.items()}
    padded = t['source'].numel()
    feat = batch * channels * height * width
    kern = batch * taps * height * width
    keys = t['keys'].numel()
    # Minimum bytes each pass must move (read inputs + write outputs, no intermediates).
    moved = {
        'adaptive_conv': (padded + kern + feat, feat + padded + kern + padded + kern),
        'range_kernel': (keys + kern, kern + kern + keys + keys),
        'jbu_upsample': (padded + keys + feat, feat + padded + keys + padded + keys),
    }
    print(f'INFO timing {str(dtype)[6:]} B={batch} C={channels} D={depth} H={height} '
          f'W={width} r={radius}; bandwidth {bandwidth / 1e9:.0f} GB/s (1 GiB D2D copy); '
          'floor = bytes moved / bandwidth', flush=True)
    print(f'INFO timing {"op":<14} {"pass":<8} {"ms":>9} {"MB moved":>9} {"floor ms":>9} '
          f'{"x floor":>8}', flush=True)
    rows = 0
    for op, (fwd_elems, bwd_elems) in moved.items():
        names = {'adaptive_conv': ['source', 'weights'], 'range_kernel': ['keys', 'tau'],
                 'jbu_upsample': ['source', 'keys', 'tau', 'sigma']}[op]
        inputs = [t[n].detach().requires_grad_(True) for n in names]
        call = {'adaptive_conv': lambda: ops.adaptive_conv(*inputs),
                'range_kernel': lambda: ops.range_kernel(*inputs, radius),
                'jbu_upsample': lambda: ops.jbu_upsample(*inputs, radius)}[op]
        with torch.no_grad():
            fwd = time_it(call, device)
        out = call()
        grad = torch.randn_like(out)
        bwd = time_it(lambda: torch.autograd.grad(out, inputs, grad, retain_graph=True), device)
        for label, seconds, elems in (('forward', fwd, fwd_elems), ('backward', bwd, bwd_elems)):
            nbytes = elems * elem
            floor = nbytes / bandwidth
            print(f'INFO timing {op:<14} {label:<8} {seconds * 1e3:9.3f} {nbytes / 1e6:9.1f} '
                  f'{floor * 1e3:9.3f} {seconds / floor:8.1f}', flush=True)
            rows += 1
            if not math.isfinite(seconds) or seconds <= 0:
                raise AssertionError(f'{op} {label}: bad time {seconds}')
    return f'{rows} rows, {str(dtype)[6:]} (backward = autograd, incl. recomputation)'
