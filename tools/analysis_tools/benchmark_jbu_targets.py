"""The JBU's speed and memory targets in one run, each beside its floor on this machine.

    python tools/analysis_tools/benchmark_jbu_targets.py [--threads 2] [--repeats 3]

Figures (CPU, float32, the thread count of ``--threads``):

* JBUStack forward, C=384, 14x14 -> 224x224, batch 1 (eval, no_grad), and the ratio to
  bilinear interpolation of the same tensor;
* JBUStack forward + backward of ``out.sum()`` (train mode), same shapes;
* JBUStack forward to 448x448 (28x28 features, the same x16) over the 224x224 forward;
* one JBU stage (``JBULearnedRange``, C=384, 112 -> 224, batch 4) forward + backward: peak
  memory (live tensor bytes from the torch profiler's allocation records);
* SegFormer-B0 + FeatUpNeck(JBUStack) (``configs/segformer/segformer_mit-b0_jbu_8xb2-160k_
  ade20k-512x512.py``) over the stock SegFormer-B0 it inherits: a train step (loss,
  backward, SGD step) and an inference, 512x512, batch 2.

Floors (:mod:`mmfeatup.benchmark.floors`): a time's floor is the larger of its multiply-adds
at the measured peak rate and its compulsory bytes at the measured copy bandwidth; a ratio's
"floor" is the ratio of the two FLOP counts: an equal-efficiency estimate, not a bound (the
counts are of an eval forward and leave out ops mmengine does not count); the ratio to
bilinear's floor is the JBU's floor over bilinear's measured time; the memory floor is what
must be live at once: the output (forward), or during the backward the output's gradient
(dense, as a head's backward gives it) and the input's gradient, whichever is larger (the
input exists before the call and is not in the measured peak either). Targets are the ones
docs/benchmarks.md states.
"""
from __future__ import annotations

import argparse
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEGFORMER = osp.join(REPO, 'configs', 'segformer',
                     'segformer_mit-b0_jbu_8xb2-160k_ade20k-512x512.py')
MIB = 2**20


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line (``argv``: default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3, help='timed calls per figure')
    parser.add_argument('--channels', type=int, default=384)
    parser.add_argument('--skip-segformer', action='store_true',
                        help='leave out the two SegFormer-B0 rows (the slowest)')
    parser.add_argument('--fused-pairs', type=int, default=0, metavar='N',
                        help='also time the JBUStack forward, then forward + backward, with '
                        'the fused op (bicubic_adaptive_conv, the CPU path) against the '
                        'two-step form (banded resize + adaptive_conv), alternating, N pairs; '
                        'prints medians and the median of the per-pair ratios')
    parser.add_argument('--profile', action='store_true',
                        help='also print where the JBUStack forward spends its time (torch '
                        'profiler, ops by self CPU time)')
    return parser.parse_args(argv)


def stage_memory(channels: int, batch: int = 4, size: int = 224) -> Dict[str, float]:
    """Peak bytes of one JBU stage's forward + backward and the bytes it cannot avoid.

    Args:
        channels (int): feature channels ``C``.
        batch (int): images. Default: 4.
        size (int): output side (the input is half of it). Default: 224.

    Returns:
        dict: ``peak_mib`` (measured) and ``floor_mib``.
    """
    from mmfeatup.benchmark.cost import peak_bytes
    from mmfeatup.models.upsamplers.jbu_stage import JBULearnedRange

    torch.manual_seed(0)
    stage = JBULearnedRange().train()
    source = torch.randn(batch, channels, size // 2, size // 2, requires_grad=True)
    guidance = torch.rand(batch, 3, size, size)

    def forward_backward() -> None:
        source.grad = None
        stage.zero_grad(set_to_none=True)
        stage(source, guidance).sum().backward()

    forward_backward()  # warm-up: the lazily created buffers are not part of the peak
    peak = peak_bytes(forward_backward, torch.device('cpu'))
    out_bytes = batch * channels * size * size * 4
    # the input existed before the call, so the profiler's peak does not count it; the output
    # is live in the forward, its (dense) gradient with the input's gradient in the backward
    return dict(peak_mib=peak / MIB, floor_mib=(out_bytes + source.numel() * 4) / MIB)


def profile_forward(channels: int, top: int = 10) -> str:
    """The torch profiler's table of one JBUStack forward (C, 14 -> 224), ops by self time.

    Args:
        channels (int): feature channels ``C``.
        top (int): rows of the table. Default: 10.

    Returns:
        str: the table.
    """
    from torch.profiler import ProfilerActivity, profile

    from mmfeatup.models.upsamplers import JBUStack
    torch.manual_seed(0)
    stack = JBUStack(channels).eval()
    source, image = torch.randn(1, channels, 14, 14), torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        stack(source, image, output_size=(224, 224))  # warm-up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            stack(source, image, output_size=(224, 224))
    return prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=top)


def fused_vs_two_step(channels: int, pairs: int, backward: bool = False) -> str:
    """The JBUStack forward (C, 14 -> 224; eval, no_grad) or forward + backward of
    ``out.sum()`` (train) with its stages' fused op (``bicubic_adaptive_conv``, the CPU path)
    and with the two-step form forced (banded resize + ``adaptive_conv``, the CUDA path), timed
    alternately so that the machine's drift hits both.

    Args:
        channels (int): feature channels ``C``.
        pairs (int): timed (fused, two-step) pairs after one warm-up pair.
        backward (bool): time forward + backward instead of the forward. Default: False.

    Returns:
        str: a two-line report (medians and the median per-pair ratio).
    """
    import contextlib
    import statistics
    import time
    from unittest import mock

    from mmfeatup.models.upsamplers.jbu import JBUStack
    from mmfeatup.models.upsamplers.jbu_stage import JBULearnedRange

    torch.manual_seed(0)
    model = JBUStack(channels).train(backward)
    source, guidance = torch.randn(1, channels, 14, 14), torch.rand(1, 3, 224, 224)

    def run(two_step: bool) -> float:
        forced = mock.patch.object(JBULearnedRange, '_two_step', lambda *args: True)
        with forced if two_step else contextlib.nullcontext(), torch.set_grad_enabled(backward):
            model.zero_grad(set_to_none=True)
            start = time.perf_counter()
            out = model(source, guidance)
            if backward:
                out.sum().backward()
            return time.perf_counter() - start

    run(False), run(True)  # warm-up
    fused, two = [], []
    for _ in range(pairs):
        fused.append(run(False))
        two.append(run(True))
    ratios = [a / b for a, b in zip(fused, two)]
    what = 'forward + backward (train)' if backward else 'forward (eval, no_grad)'
    return (f'JBUStack {what} (C={channels}, 14->224), {pairs} alternating pairs: fused '
            f'{statistics.median(fused) * 1e3:.1f} ms, two-step {statistics.median(two) * 1e3:.1f}'
            f' ms (medians)\nfused / two-step per pair: median {statistics.median(ratios):.3f}, '
            f'min {min(ratios):.3f}, max {max(ratios):.3f}')


def segformer_rows(repeats: int) -> List[Dict[str, Any]]:
    """SegFormer-B0 with the FeatUp neck against the stock model: train step and inference.

    Args:
        repeats (int): timed calls per figure.

    Returns:
        list[dict]: two table rows (train step, inference).
    """
    from mmfeatup.benchmark.segmentor import (build_segmentor, count_segmentor_flops,
                                              time_segmentor)
    figures, flops = {}, {}
    for name, without_neck in (('stock', True), ('neck', False)):
        torch.manual_seed(0)
        model = build_segmentor(SEGFORMER, without_neck=without_neck)
        flops[name] = count_segmentor_flops(model, (3, 512, 512))[0]
        figures[name] = time_segmentor(model, (512, 512), batch=2, num_classes=150,
                                       repeats=repeats)
    rows = []
    for key, label, target in (('train_ms', 'train step', 1.15), ('infer_ms', 'inference', 1.3)):
        rows.append(dict(figure=f'SegFormer-B0 + FeatUpNeck {label} / stock (512^2, B=2)',
                         value=figures['neck'][key] / figures['stock'][key], unit='x',
                         target=target, floor=flops['neck'] / flops['stock'],
                         detail=f'{figures["neck"][key]:.0f} / {figures["stock"][key]:.0f} ms'))
    return rows


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    """Measure, print the table and return its rows.

    Args:
        argv (Sequence[str], optional): the command line (default ``sys.argv[1:]``).

    Returns:
        list[dict]: ``figure``, ``value``, ``unit``, ``target``, ``floor``, ``detail`` per row.
    """
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from mmfeatup import ops
    from mmfeatup.benchmark.cost import measure_cost
    from mmfeatup.benchmark.floors import floor_ms, measure_peaks

    peaks = measure_peaks()
    cpu = torch.device('cpu')
    channels = args.channels
    jbu = measure_cost('JBUStack', (14, 14), (224, 224), channels, 1, cpu, args.repeats)
    bilinear = measure_cost('Bilinear', (14, 14), (224, 224), channels, 1, cpu, args.repeats)
    big = measure_cost('JBUStack', (28, 28), (448, 448), channels, 1, cpu, args.repeats)
    out_bytes = channels * 224 * 224 * 4
    fwd_floor = floor_ms(jbu['flops'], out_bytes, peaks)
    rows: List[Dict[str, Any]] = [
        dict(figure=f'JBUStack forward (C={channels}, 14->224, B=1)', value=jbu['fwd_ms'] / 1e3,
             unit='s', target=0.10, floor=fwd_floor / 1e3,
             detail=f'{jbu["flops"] / 1e9:.2f} GFLOPs'),
        dict(figure='JBUStack forward / bilinear forward', value=jbu['fwd_ms'] / bilinear['fwd_ms'],
             unit='x', target=4.0, floor=fwd_floor / bilinear['fwd_ms'],
             detail=f'bilinear {bilinear["fwd_ms"]:.1f} ms (its own floor '
             f'{floor_ms(bilinear["flops"], out_bytes, peaks):.1f} ms)'),
        dict(figure='JBUStack forward + backward', value=jbu['fwdbwd_ms'] / 1e3, unit='s',
             target=0.30, floor=floor_ms(3 * jbu['flops'], 2 * out_bytes, peaks) / 1e3,
             detail='floor: backward = 2x the forward multiply-adds'),
        dict(figure='JBUStack forward 448^2 / 224^2', value=big['fwd_ms'] / jbu['fwd_ms'],
             unit='x', target=4.3, floor=big['flops'] / jbu['flops'],
             detail=f'{big["fwd_ms"]:.0f} / {jbu["fwd_ms"]:.0f} ms'),
    ]
    memory = stage_memory(channels)
    rows.append(dict(figure=f'one JBU stage fwd+bwd peak (C={channels}, 224^2, B=4)',
                     value=memory['peak_mib'] / 1024, unit='GiB', target=1.3,
                     floor=memory['floor_mib'] / 1024, detail='profiler allocation records'))
    if not args.skip_segformer:
        rows += segformer_rows(args.repeats)

    print(f'ops backend: {ops.backend()}; threads: {torch.get_num_threads()}; measured peaks: '
          f'{peaks["gmacs"]:.1f} GMAC/s (float32 matmul), {peaks["gbps"]:.1f} GB/s (copy)')
    print('| figure | measured | target | floor | measured / floor | met | detail |')
    print('|---|---:|---:|---:|---:|---|---|')
    for row in rows:
        unit = row['unit']
        print(f'| {row["figure"]} | {row["value"]:.3f} {unit} | <= {row["target"]} {unit} | '
              f'{row["floor"]:.3f} {unit} | {row["value"] / row["floor"]:.1f}x | '
              f'{"yes" if row["value"] <= row["target"] else "no"} | {row["detail"]} |')
    if args.fused_pairs:
        print(fused_vs_two_step(channels, args.fused_pairs))
        print(fused_vs_two_step(channels, args.fused_pairs, backward=True))
    if args.profile:
        print(profile_forward(channels))
    return rows


if __name__ == '__main__':
    main()
