"""Self-test of the compiled mmfeatup ops on a CUDA GPU (run by tools/gpu_selftest.sh).

Needs only torch and numpy (never imports mmengine/mmseg). Prints one line per check,
``PASS <name> ...`` / ``FAIL <name> ...`` / ``SKIP <name> <reason>``, ``INFO`` lines and a
final ``SUMMARY``; exits 0 when nothing failed, 1 on any FAIL, 2 when the library cannot
be loaded, 3 when no CUDA GPU is visible (only the CPU-only checks ran, none failed).

Usage (normally through the wrapper, which builds the library first):
    python tools/gpu_selftest.py [--ext path/to/_ext.so] [--cpu-only] [--skip-large]
                                 [--skip-timing] [--large-timeout S]
``--ext`` loads that library as ``mmfeatup._ext`` (else the importable one is used).

Checks (CUDA):
  import_without_mmengine   ``import mmfeatup.ops`` with mmengine/mmseg/mmcv blocked
  extension                 the library has CUDA kernels; versions and device
  opcheck_*                 torch.library.opcheck of every op (float32; bfloat16 for the
                            differentiable ops, whose backward keeps a float32 state)
  gradcheck_*               float64 gradcheck on odd shapes
  double_backward_*         not implemented: must raise NotImplementedError naming it,
                            not return zeros (gradgradcheck is used if it ever is)
  cpu_vs_cuda_*             forward + backward of each op, radius 1..5, non-square, batch
                            > 1, C = 1, in float32, float16 and bfloat16 (float32
                            accumulation). The CPU runs in float32 on the same rounded
                            inputs; the error is max|cuda - cpu| / max|cpu| per tensor and
                            the tolerance is printed on each line
  minus_inf_logits_*        logits overflowing to -inf on the first taps: CUDA equals CPU
  low_precision_dtau_*      d(tau) in saturated windows, bf16/fp16 against float64
  large_index_*             n in (2^31 - 2^28, 2^31 - 1) with 32-bit indices and n > 2^31
                            (64-bit), in a child process with a timeout (an overflowing
                            grid-stride loop never ends); SKIP when GPU memory is short
  timing                    forward/backward per op against the memory-bandwidth floor
                            (bytes moved / the bandwidth of a 1 GiB device-to-device copy)
"""
from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.util
import math
import os
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCKED = ('mmengine', 'mmseg', 'mmcv', 'mmdet')

import torch  # noqa: E402
from torch.autograd.gradcheck import GradcheckError  # noqa: E402

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


# ---- loading ----------------------------------------------------------------------------
class _BlockImports(importlib.abc.MetaPathFinder):
    """Make mmengine/mmseg/... unimportable, as on a machine without them."""

    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{name} is blocked by gpu_selftest (not needed by the ops)')
        return None


def _load_module_from_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Ops:
    """The ops under test: torch.ops.mmfeatup plus the public API and the references."""

    def __init__(self, ext_path):
        self.ext_path = ext_path
        self.public = None
        self.reference = None
        self.library = None
        self.with_cuda = False

    def load(self):
        """Import mmfeatup.ops with mmengine/mmseg blocked; returns a detail string."""
        if self.ext_path:
            _load_module_from_file('mmfeatup._ext', self.ext_path)  # before mmfeatup.ops
        blocker = _BlockImports()
        sys.meta_path.insert(0, blocker)
        sys.path.insert(0, ROOT)
        try:
            import mmfeatup.ops as public
            from mmfeatup.ops import library, loader, reference
            if not public.load_extension():
                raise RuntimeError('mmfeatup.ops runs the reference backend: the compiled '
                                   'library could not be imported')
            leaked = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED)
            if leaked:
                raise RuntimeError(f'imported {leaked}')
        finally:
            sys.meta_path.remove(blocker)
        self.public, self.reference, self.library = public, reference, library
        self.with_cuda = bool(getattr(loader.extension(), 'with_cuda', 0))
        return f'backend={public.backend()} ext={sys.modules["mmfeatup._ext"].__file__}'

    def load_directly(self):
        """Fallback: the library files by path (they need torch only)."""
        if 'mmfeatup._ext' not in sys.modules:
            if not self.ext_path:
                raise RuntimeError('mmfeatup.ops cannot be imported and no --ext was given')
            _load_module_from_file('mmfeatup._ext', self.ext_path)
        ops_dir = os.path.join(ROOT, 'mmfeatup', 'ops')
        self.library = _load_module_from_file('_mmfeatup_ops_library',
                                              os.path.join(ops_dir, 'library.py'))
        self.reference = _load_module_from_file('_mmfeatup_ops_reference',
                                                os.path.join(ops_dir, 'reference.py'))
        self.library.register_python_parts()
        self.with_cuda = bool(getattr(sys.modules['mmfeatup._ext'], 'with_cuda', 0))

    # The differentiable ops (public API when importable, else the raw ops: same kernels).
    def adaptive_conv(self, source, weights):
        return torch.ops.mmfeatup.adaptive_conv(source, weights)

    def range_kernel(self, keys, tau, radius):
        return torch.ops.mmfeatup.range_kernel(keys, tau, radius)

    def jbu_upsample(self, source, keys, tau, sigma, radius):
        return torch.ops.mmfeatup.jbu_upsample(source, keys, tau, sigma, radius)


# ---- helpers ----------------------------------------------------------------------------
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
    )


def run_op(ops, op, tensors, radius):
    """Forward and the gradients of <out, grad> w.r.t. every differentiable input."""
    if op == 'adaptive_conv':
        names = ['source', 'weights']
    elif op == 'range_kernel':
        names = ['keys', 'tau']
    else:
        names = ['source', 'keys', 'tau', 'sigma']
    inputs = [tensors[n].detach().clone().requires_grad_(True) for n in names]
    if op == 'adaptive_conv':
        out = ops.adaptive_conv(*inputs)
        grad = tensors['grad_feature']
    elif op == 'range_kernel':
        out = ops.range_kernel(*inputs, radius)
        grad = tensors['grad_range']
    else:
        out = ops.jbu_upsample(*inputs, radius)
        grad = tensors['grad_feature']
    grads = torch.autograd.grad(out, inputs, grad)
    return out.detach(), dict(zip(names, grads))


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


# ---- checks -----------------------------------------------------------------------------
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
    if op == 'adaptive_conv':
        args = [source, weights]
    elif op == 'range_kernel':
        args = [keys, tau]
    elif op == 'jbu_upsample':
        args = [source, keys, tau, sigma]
    elif op == 'adaptive_conv_backward':
        return (torch.randn(2, 4, 5, 6, generator=gen).to(**f), source, weights)
    else:  # range_kernel_backward
        out = torch.ops.mmfeatup.range_kernel(keys, tau, 2)
        return (torch.randn(out.shape, generator=gen).to(**f), out, keys, tau, 2)
    args = [a.requires_grad_(requires_grad) for a in args]
    return tuple(args) + ((2, ) if op != 'adaptive_conv' else ())


def check_opcheck(op, dtype, device):
    grads = [False, True] if not op.endswith('backward') else [False]
    for requires_grad in grads:
        result = torch.library.opcheck(getattr(torch.ops.mmfeatup, op),
                                       opcheck_args(op, dtype, device, requires_grad))
        bad = {k: v for k, v in result.items() if v != 'SUCCESS'}
        if bad:
            raise AssertionError(str(bad))
    return f'{str(dtype)[6:]} requires_grad={grads}'


def check_gradcheck(ops, op, device, shape):
    batch, channels, depth, height, width, radius = shape
    t = make_inputs(batch, channels, depth, height, width, radius, seed=11)
    f64 = {k: v.double().to(device).requires_grad_(True) for k, v in t.items()}
    if op == 'adaptive_conv':
        fn, args = ops.adaptive_conv, (f64['source'], f64['weights'])
    elif op == 'range_kernel':
        fn = lambda k, tau: ops.range_kernel(k, tau, radius)  # noqa: E731
        args = (f64['keys'], f64['tau'])
    else:
        fn = lambda s, k, tau, sig: ops.jbu_upsample(s, k, tau, sig, radius)  # noqa: E731
        args = (f64['source'], f64['keys'], f64['tau'], f64['sigma'])
    if not torch.autograd.gradcheck(fn, args):
        raise AssertionError('gradcheck returned False')
    return f'float64 shape(B,C,D,H,W)={shape[:5]} r={radius}'


def check_double_backward(ops, op, device):
    t = make_inputs(1, 2, 2, 4, 5, 1, seed=12)
    f64 = {k: v.double().to(device).requires_grad_(True) for k, v in t.items()}
    if op == 'adaptive_conv':
        fn, args = ops.adaptive_conv, (f64['source'], f64['weights'])
    elif op == 'range_kernel':
        fn, args = (lambda k, tau: ops.range_kernel(k, tau, 1)), (f64['keys'], f64['tau'])
    else:
        fn = lambda s, k, tau, sig: ops.jbu_upsample(s, k, tau, sig, 1)  # noqa: E731
        args = (f64['source'], f64['keys'], f64['tau'], f64['sigma'])
    try:
        ok = torch.autograd.gradgradcheck(fn, args)
    except NotImplementedError as error:
        if 'double backward' not in str(error):
            raise AssertionError(f'NotImplementedError without a clear message: {error}')
        return 'not implemented: raises NotImplementedError ("double backward ... is not ' \
               'implemented")'
    except GradcheckError as error:
        raise AssertionError('double backward returns wrong (e.g. zero) gradients: '
                             + str(error).splitlines()[0])
    if not ok:
        raise AssertionError('gradgradcheck returned False')
    return 'gradgradcheck passed (float64)'


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


# ---- large-index checks (child process) ------------------------------------------------
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
    cmd = [sys.executable, os.path.abspath(__file__), '--large-only', name]
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


# ---- timing -----------------------------------------------------------------------------
def measure_bandwidth(device):
    numel = 2**28  # 1 GiB of float32
    src = torch.empty(numel, device=device, dtype=torch.float32).fill_(1)
    dst = torch.empty_like(src)
    seconds = time_it(lambda: dst.copy_(src), device, iters=10)
    return 2 * numel * 4 / seconds  # read + write


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


# ---- main -------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--ext', help='path of a built mmfeatup _ext*.so to test')
    parser.add_argument('--cpu-only', action='store_true',
                        help='run only the checks that need no GPU')
    parser.add_argument('--skip-large', action='store_true', help='skip the >2^31 checks')
    parser.add_argument('--skip-timing', action='store_true', help='skip the timing table')
    parser.add_argument('--large-timeout', type=int, default=240,
                        help='seconds for each large-index child process')
    parser.add_argument('--large-only', help=argparse.SUPPRESS)  # the child process
    parser.add_argument('--device', default='cuda',
                        help='device of the device checks (cpu: test this script itself)')
    args = parser.parse_args(argv)

    ops = Ops(os.path.abspath(args.ext) if args.ext else None)
    if args.large_only:
        try:
            ops.load()
        except Exception:  # noqa: BLE001
            ops.load_directly()
        case = {name: (shape, radius) for name, shape, radius in LARGE_CASES}[args.large_only]
        run_check(f'large_index_{args.large_only}', run_large_case, ops,
                  torch.device('cuda'), args.large_only, *case)
        return 1 if 'FAIL' in RESULTS else 0

    has_gpu = torch.cuda.is_available() and not args.cpu_only and args.device != 'cpu'
    device = torch.device(args.device if has_gpu or args.device == 'cpu' else 'cpu')
    run_check('import_without_mmengine', ops.load)
    if RESULTS[-1] != 'PASS':
        try:
            ops.load_directly()
            print('INFO loaded the library files directly (mmfeatup.ops not importable)')
        except Exception as error:  # noqa: BLE001
            print(f'FAIL setup could not load the ops: {error}')
            return 2
    device_checks = has_gpu or args.device == 'cpu'
    if not device_checks:
        run_check('extension', check_extension, ops, torch.device('cpu'))
        run_check('double_backward_cpu', check_double_backward, ops, 'jbu_upsample',
                  torch.device('cpu'))
        for dtype in (torch.float32, torch.float64):
            run_check(f'minus_inf_logits_cpu_{str(dtype)[6:]}', check_minus_inf_cpu, ops, dtype)
        report('SKIP', 'cuda_checks', 'no CUDA GPU (torch.cuda.is_available() is False): '
               'opcheck, gradcheck, cpu_vs_cuda, minus_inf, low_precision_dtau, large_index, '
               'timing not run')
        return summary(exit_if_clean=3)

    dev_name = device.type
    run_check('extension', check_extension, ops, device)
    low = [d for d in DTYPES if device.type == 'cuda' or d[0] == torch.float32]
    for op in ('adaptive_conv', 'adaptive_conv_backward', 'range_kernel',
               'range_kernel_backward', 'jbu_upsample'):
        run_check(f'opcheck_{op}_{dev_name}', check_opcheck, op, torch.float32, device)
    if device.type == 'cuda':
        for op in ('adaptive_conv', 'range_kernel', 'jbu_upsample'):
            run_check(f'opcheck_{op}_{dev_name}_bf16', check_opcheck, op, torch.bfloat16, device)
    for op in ('adaptive_conv', 'range_kernel', 'jbu_upsample'):
        for shape in ((2, 3, 3, 5, 4, 1), (1, 2, 2, 5, 3, 2)):
            run_check(f'gradcheck_{op}_{dev_name}_r{shape[-1]}', check_gradcheck, ops, op,
                      device, shape)
        run_check(f'double_backward_{op}_{dev_name}', check_double_backward, ops, op, device)
    for op in ('adaptive_conv', 'range_kernel', 'jbu_upsample'):
        for dtype, fwd_tol, bwd_tol in low:
            for case in CASES:
                run_check(f'cpu_vs_{dev_name}_{op}_{str(dtype)[6:]}_r{case[-1]}',
                          check_cpu_vs_device, ops, device, op, dtype, fwd_tol, bwd_tol, case)
    for dtype in (torch.float32, torch.float64):
        run_check(f'minus_inf_logits_{dev_name}_{str(dtype)[6:]}', check_minus_inf, ops, device,
                  dtype)
    if device.type == 'cuda':
        for dtype, rtol in ((torch.bfloat16, 1e-2), (torch.float16, 3e-3)):
            run_check(f'low_precision_dtau_{str(dtype)[6:]}', check_low_precision_dtau, ops,
                      device, dtype, rtol)
    for name, _, _ in LARGE_CASES:
        if args.skip_large:
            report('SKIP', f'large_index_{name}', '--skip-large')
        elif device.type != 'cuda':
            report('SKIP', f'large_index_{name}', 'needs a CUDA GPU')
        else:
            run_check(f'large_index_{name}', check_large_in_child, args, name)
    if args.skip_timing:
        report('SKIP', 'timing', '--skip-timing')
    else:
        size = (2, 384, 32, 224, 224, 3) if device.type == 'cuda' else (1, 8, 4, 16, 16, 1)
        for dtype in ([torch.float32, torch.bfloat16] if device.type == 'cuda'
                      else [torch.float32]):
            run_check(f'timing_{str(dtype)[6:]}', check_timing, ops, device, dtype, size)
    return summary(exit_if_clean=0)


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


def summary(exit_if_clean):
    counts = {s: RESULTS.count(s) for s in ('PASS', 'FAIL', 'SKIP')}
    print(f'SUMMARY {counts["PASS"]} passed, {counts["FAIL"]} failed, {counts["SKIP"]} skipped',
          flush=True)
    return 1 if counts['FAIL'] else exit_if_clean


if __name__ == '__main__':
    sys.exit(main())
