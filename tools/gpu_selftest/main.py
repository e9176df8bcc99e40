"""The order of the checks and the exit code (see __main__.py for the contract)."""
from __future__ import annotations

import argparse
import os

import torch

from . import checks, large, timing
from .common import RESULTS, report, run_check, summary
from .loading import Ops


#: The differentiable ops (each has an ``<op>_backward``).
OPS = ('adaptive_conv', 'bicubic_adaptive_conv', 'range_kernel', 'jbu_upsample')


def main(doc, argv=None):
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
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
        case = {name: (shape, radius) for name, shape, radius in large.LARGE_CASES}[args.large_only]
        run_check(f'large_index_{args.large_only}', large.run_large_case, ops,
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
        run_check('extension', checks.check_extension, ops, torch.device('cpu'))
        for op in OPS:
            run_check(f'gradgradcheck_{op}_cpu', checks.check_double_backward, ops, op,
                      torch.device('cpu'))
        for dtype in (torch.float32, torch.float64):
            run_check(f'minus_inf_logits_cpu_{str(dtype)[6:]}', checks.check_minus_inf_cpu, ops, dtype)
        report('SKIP', 'cuda_checks', 'no CUDA GPU (torch.cuda.is_available() is False): '
               'opcheck, gradcheck, cpu_vs_cuda, minus_inf, low_precision_dtau, large_index, '
               'timing not run')
        return summary(exit_if_clean=3)

    dev_name = device.type
    run_check('extension', checks.check_extension, ops, device)
    low = [d for d in checks.DTYPES if device.type == 'cuda' or d[0] == torch.float32]
    for op in [name for op in OPS for name in (op, f'{op}_backward')]:
        run_check(f'opcheck_{op}_{dev_name}', checks.check_opcheck, op, torch.float32, device)
    if device.type == 'cuda':
        for op in OPS:
            run_check(f'opcheck_{op}_{dev_name}_bf16', checks.check_opcheck, op, torch.bfloat16, device)
    for op in OPS:
        for shape in ((2, 3, 3, 5, 4, 1), (1, 2, 2, 5, 3, 2)):
            run_check(f'gradcheck_{op}_{dev_name}_r{shape[-1]}', checks.check_gradcheck, ops, op,
                      device, shape)
        run_check(f'gradgradcheck_{op}_{dev_name}', checks.check_double_backward, ops, op, device)
    run_check(f'gradcheck_backward_ops_{dev_name}', checks.check_backward_ops, device)
    for op in OPS:
        for dtype, fwd_tol, bwd_tol in low:
            for case in checks.CASES:
                run_check(f'cpu_vs_{dev_name}_{op}_{str(dtype)[6:]}_r{case[-1]}',
                          checks.check_cpu_vs_device, ops, device, op, dtype, fwd_tol, bwd_tol, case)
    for dtype in (torch.float32, torch.float64):
        run_check(f'minus_inf_logits_{dev_name}_{str(dtype)[6:]}', checks.check_minus_inf, ops, device,
                  dtype)
    if device.type == 'cuda':
        for dtype, rtol in ((torch.bfloat16, 1e-2), (torch.float16, 3e-3)):
            run_check(f'low_precision_dtau_{str(dtype)[6:]}', checks.check_low_precision_dtau, ops,
                      device, dtype, rtol)
    for name, _, _ in large.LARGE_CASES:
        if args.skip_large:
            report('SKIP', f'large_index_{name}', '--skip-large')
        elif device.type != 'cuda':
            report('SKIP', f'large_index_{name}', 'needs a CUDA GPU')
        else:
            run_check(f'large_index_{name}', large.check_large_in_child, args, name)
    if args.skip_timing:
        report('SKIP', 'timing', '--skip-timing')
    else:
        size = (2, 384, 32, 224, 224, 3) if device.type == 'cuda' else (1, 8, 4, 16, 16, 1)
        for dtype in ([torch.float32, torch.bfloat16] if device.type == 'cuda'
                      else [torch.float32]):
            run_check(f'timing_{str(dtype)[6:]}', timing.check_timing, ops, device, dtype, size)
    return summary(exit_if_clean=0)
