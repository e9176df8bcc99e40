"""Benchmark the mmfeatup JBU ops: compiled extension vs the plain-PyTorch references.

Prints a table: op, shape, backend, forward ms, forward+backward ms, peak memory,
on CPU and (when present) CUDA. Backends:

* ``extension``: the compiled ``torch.ops.mmfeatup`` kernels;
* ``reference``: :mod:`mmfeatup.ops.reference` (loop over taps, the fallback);
* ``unfold``: the FeatUp-code formulation (``nn.Unfold`` of the padded keys +
  einsum; the adaptive convolution through ``F.unfold``).

Every (op, backend, device) case runs in a fresh subprocess. Peak memory: on CPU
the growth of the process' peak resident set (``ru_maxrss``) over its resident
set just before one forward+backward, measured first in that process (inputs are
created without temporaries, so the baseline is not below an earlier peak; large
CPU tensors are malloc/mmap'ed and returned to the OS when freed, so the RSS
tracks live tensors); on CUDA ``torch.cuda.max_memory_allocated`` over the
allocation before the step. Times: median over ``--reps`` runs after one warm-up;
"fwd" under ``torch.no_grad()``, "fwd+bwd" with gradients for every input.

Example (the JBU stage of docs/benchmarks.md)::

    python tools/analysis_tools/benchmark_ops.py --device cpu
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Tuple

OPS = ('jbu_stage', 'adaptive_conv', 'range_kernel', 'jbu_upsample')
BACKENDS = ('extension', 'reference', 'unfold')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', choices=('cpu', 'cuda', 'all'), default='all',
                        help='all: CPU, and CUDA when a GPU is present')
    parser.add_argument('--ops', nargs='+', choices=OPS, default=list(OPS))
    parser.add_argument('--backends', nargs='+', choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--channels', type=int, default=384)
    parser.add_argument('--size', type=int, default=112, help='target (output) size H = W')
    parser.add_argument('--depth', type=int, default=32, help='range key channels D')
    parser.add_argument('--radius', type=int, default=3)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--dtype', choices=('float32', 'float16', 'bfloat16'), default='float32',
                        help='float16/bfloat16 on CUDA only')
    parser.add_argument('--quick', action='store_true',
                        help='small shapes, one rep (smoke test of the script)')
    parser.add_argument('--worker', nargs=3, metavar=('OP', 'BACKEND', 'DEVICE'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.channels, args.size, args.reps = 2, 32, 24, 1
    return args


# ----------------------------------------------------------------------------- worker
def _rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _implementations(backend: str) -> Tuple[Callable, Callable, Callable]:
    """(range_kernel, adaptive_conv, jbu_upsample) of a backend."""
    import torch

    from mmfeatup.ops import reference as ref
    if backend == 'extension':
        from mmfeatup.ops import load_extension
        if not load_extension():
            raise SystemExit('benchmark_ops: mmfeatup._ext is not built')
        ops = torch.ops.mmfeatup
        return ops.range_kernel, ops.adaptive_conv, ops.jbu_upsample
    if backend == 'reference':
        return (ref.range_kernel_reference, ref.adaptive_conv_reference,
                ref.jbu_upsample_reference)

    def jbu_unfold(source, keys, tau, sigma, radius):
        kernel = ref.range_kernel_unfold_reference(keys, tau, radius)
        kernel = kernel * ref.spatial_kernel_reference(sigma, radius).reshape(1, -1, 1, 1)
        kernel = kernel / kernel.sum(1, keepdim=True).clamp_min(1e-7)
        return ref.adaptive_conv_unfold_reference(source, kernel)

    return ref.range_kernel_unfold_reference, ref.adaptive_conv_unfold_reference, jbu_unfold


def run_worker(args: argparse.Namespace) -> Dict[str, float]:
    import torch
    op, backend, device = args.worker
    dtype = getattr(torch, args.dtype)
    rk, ac, jbu = _implementations(backend)
    b, c, s, d, r = args.batch, args.channels, args.size, args.depth, args.radius
    taps = (2 * r + 1)**2
    gen = torch.Generator(device=device).manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, generator=gen, device=device, dtype=dtype)

    source = randn(b, c, s + 2 * r, s + 2 * r)
    keys = randn(b, d, s, s)
    weights = torch.rand(b, taps, s, s, generator=gen, device=device, dtype=dtype)
    tau = torch.tensor(1.0, device=device, dtype=dtype)
    sigma = torch.tensor(1.0, device=device, dtype=dtype)
    out_channels = taps if op == 'range_kernel' else c
    grad = randn(b, out_channels, s, s)
    if op == 'jbu_stage':
        inputs, fn = (source, keys, tau), lambda u, k, t: ac(u, rk(k, t, r))
    elif op == 'adaptive_conv':
        inputs, fn = (source, weights), ac
    elif op == 'range_kernel':
        inputs, fn = (keys, tau), lambda k, t: rk(k, t, r)
    else:
        inputs, fn = (source, keys, tau, sigma), lambda u, k, t, g: jbu(u, k, t, g, r)
    for tensor in inputs:
        tensor.requires_grad_(True)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)

    def fwd_bwd():
        for tensor in inputs:
            tensor.grad = None
        fn(*inputs).backward(grad)
        sync()

    def fwd():
        with torch.no_grad():
            fn(*inputs)
        sync()

    # Peak memory of the first forward+backward (before anything else ran in this process).
    if device == 'cuda':
        sync()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fwd_bwd()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        base = _rss_bytes()
        fwd_bwd()
        peak = max(0, _peak_rss_bytes() - base)

    def timed(step) -> float:
        step()  # warm-up
        times = []
        for _ in range(args.reps):
            start = time.perf_counter()
            step()
            times.append((time.perf_counter() - start) * 1e3)
        return statistics.median(times)

    fwd_ms = timed(fwd)
    fwd_bwd_ms = timed(fwd_bwd)
    return dict(fwd_ms=fwd_ms, fwd_bwd_ms=fwd_bwd_ms, peak_mib=peak / 2**20)


# ----------------------------------------------------------------------------- driver
def shape_label(op: str, args: argparse.Namespace) -> str:
    b, c, s, d, r = args.batch, args.channels, args.size, args.depth, args.radius
    if op == 'range_kernel':
        return f'B={b} D={d} {s}x{s} r={r}'
    if op == 'adaptive_conv':
        return f'B={b} C={c} {s}x{s} r={r}'
    return f'B={b} C={c} D={d} {s // 2}->{s} r={r}'


def run_case(op: str, backend: str, device: str, argv: List[str]) -> Dict[str, float]:
    cmd = [sys.executable, os.path.abspath(__file__), *argv, '--worker', op, backend, device]
    env = dict(os.environ)
    env.pop('MMFEATUP_OPS_BACKEND', None)
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ['?'])[-1]
        return dict(error=f'failed (rc={result.returncode}): {tail}')
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args)))
        return
    import torch
    devices = ['cpu'] if args.device == 'cpu' else ['cuda'] if args.device == 'cuda' else (
        ['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu'])
    print(f'torch {torch.__version__}, {torch.get_num_threads()} CPU threads, dtype '
          f'{args.dtype}, reps {args.reps}', flush=True)
    # The last two columns compare each backend with the extension (time and memory ratios).
    header = ('| device | op | shape | backend | fwd ms | fwd+bwd ms | peak MiB | '
              'fwd+bwd time / extension | peak MiB / extension |')
    print(header)
    print('|---|---|---|---|---:|---:|---:|---:|---:|')
    for device in devices:
        for op in args.ops:
            base = None
            for backend in args.backends:  # rows print as they finish (slow references)
                row = run_case(op, backend, device, argv)
                if backend == 'extension' and 'error' not in row:
                    base = row
                label = f'| {device} | {op} | {shape_label(op, args)} | {backend} |'
                if 'error' in row:
                    print(f'{label} {row["error"]} | | | | |', flush=True)
                    continue
                speed = ratio = ''
                if base is not None:
                    speed = f'{row["fwd_bwd_ms"] / base["fwd_bwd_ms"]:.1f}x'
                    if base['peak_mib'] > 0:
                        ratio = f'{row["peak_mib"] / base["peak_mib"]:.1f}x'
                print(f'{label} {row["fwd_ms"]:.1f} | {row["fwd_bwd_ms"]:.1f} | '
                      f'{row["peak_mib"]:.0f} | {speed} | {ratio} |', flush=True)


if __name__ == '__main__':
    main()
