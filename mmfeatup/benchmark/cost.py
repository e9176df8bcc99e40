"""Cost of one upsampler: parameters, FLOPs, latency and peak memory.

FLOP convention: mmengine/fvcore's, one multiply-add = 1 FLOP for convolutions and
matrix products; :func:`count_flops` adds handles that count element-wise ops (mul,
add, div, exp, softmax, sum ...) and bicubic resampling (16 per output) as one FLOP
per output element, and the mmfeatup custom ops with
:mod:`mmfeatup.analysis.flop_handles` (``adaptive_conv``: ``C*T`` per output pixel,
``range_kernel``: ``D*T``). Ops still not counted are returned by name.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import Tensor, nn

from mmfeatup.registry import build_upsampler

from .specs import Size, count_parameters, upsampler_cfg
from .timer import time_ms

#: Element-wise ops counted as one FLOP per output element.
ELEMENTWISE_OPS = (
    'aten::mul', 'aten::mul_', 'aten::add', 'aten::add_', 'aten::sub', 'aten::div', 'aten::div_',
    'aten::exp', 'aten::sigmoid', 'aten::gelu', 'aten::relu', 'aten::relu_', 'aten::softmax',
    'aten::_softmax', 'aten::sin', 'aten::cos', 'aten::rsub', 'aten::neg', 'aten::pow',
    'aten::square', 'aten::reflection_pad2d')
#: Ops that move data only (no FLOPs, and not reported as uncounted).
DATA_MOVEMENT_OPS = ('aten::pixel_shuffle', 'aten::unfold', 'aten::im2col', 'aten::index_select')


class _Call(nn.Module):
    """The computation of one call (inputs already validated by an untraced call), with
    ``output_size`` fixed so that jit tracing sees tensors only."""

    def __init__(self, upsampler: nn.Module, size: Size) -> None:
        super().__init__()
        self.upsampler, self.size = upsampler, size

    def forward(self, source: Tensor, guidance: Tensor) -> Tensor:
        used = guidance if self.upsampler.guidance_type else None
        return self.upsampler.upsample(source, used, self.size)


def count_flops(upsampler: nn.Module, source: Tensor, guidance: Tensor,
                size: Size) -> Tuple[Optional[int], str]:
    """FLOPs of one forward (eval mode) with mmengine's ``FlopAnalyzer``.

    Args:
        upsampler (nn.Module): a built upsampler, already called once on these inputs.
        source (Tensor): ``[B, C, h, w]`` features.
        guidance (Tensor): ``[B, 3, H, W]`` image.
        size (tuple[int, int]): the output size.

    Returns:
        tuple: ``(flops, uncounted)``: the total (None when tracing failed) and the ops not
        counted, e.g. ``'grid_sampler_2dx1'`` (``'-'`` for none).
    """
    from mmengine.analysis import FlopAnalyzer
    from mmengine.analysis.jit_handles import elementwise_flop_counter

    from mmfeatup.analysis import flop_handle_table

    analyzer = FlopAnalyzer(_Call(upsampler, size).eval(), (source, guidance))
    one = elementwise_flop_counter(0, 1)
    for op in ELEMENTWISE_OPS:
        analyzer.set_op_handle(op, one)
    analyzer.set_op_handle('aten::sum', elementwise_flop_counter(1, 0))
    analyzer.set_op_handle('aten::upsample_bicubic2d', elementwise_flop_counter(0, 16))
    for op in DATA_MOVEMENT_OPS:
        analyzer.set_op_handle(op, None)
    analyzer.set_op_handle('aten::_upsample_nearest_exact2d', elementwise_flop_counter(0, 1))
    # the mmfeatup ops, set here too so that the count never depends on register_flop_handles()
    analyzer.set_op_handle(**flop_handle_table())
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    try:
        # traced without autograd, as the timed eval forward runs
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter('ignore')
            total = int(analyzer.total())
            unsupported = analyzer.unsupported_ops()
    except Exception as error:  # noqa: BLE001 - tracing can fail on exotic code
        return None, f'trace failed: {type(error).__name__}'
    uncounted = ', '.join(f'{op.replace("aten::", "")}x{n}'
                          for op, n in sorted(unsupported.items()))
    return total, uncounted or '-'


def _cpu_peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak of live tensor bytes allocated while ``fn`` runs (CPU, op granularity)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage),
                    key=lambda e: e.time_range.start)
    live = peak = 0
    for event in events:
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def peak_bytes(fn: Callable[[], Any], device: torch.device) -> int:
    """Peak memory of one call of ``fn`` above what was allocated before it.

    Args:
        fn (callable): the call, no arguments.
        device (torch.device): CUDA: ``max_memory_allocated``; CPU: the torch profiler's
            allocation records.

    Returns:
        int: bytes.
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    return _cpu_peak_bytes(fn)


def measure_cost(name: str, source_size: Size, output_size: Size, channels: int, batch: int,
                 device: torch.device, repeats: int,
                 spec: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """One row of the cost table.

    Args:
        name (str): the row's name (a registered upsampler or a ``--variant`` label).
        source_size (tuple[int, int]): the feature grid.
        output_size (tuple[int, int]): the output size.
        channels (int): feature channels.
        batch (int): batch size.
        device (torch.device): where to run.
        repeats (int): timed calls per latency (median).
        spec (dict, optional): the config of a ``--variant`` row.

    Returns:
        dict: the setting plus ``guidance``, ``params``, ``flops``, ``uncounted``,
        ``fwd_ms``, ``fwd_cpu_ms``, ``fwdbwd_ms``, ``fwdbwd_cpu_ms``, ``peak_fwd_mb`` and
        ``peak_fwdbwd_mb``; or ``note`` when the upsampler cannot do this size.
    """
    row: Dict[str, Any] = dict(name=name, source=source_size, output=output_size,
                               channels=channels, batch=batch, device=str(device))
    try:
        cfg = upsampler_cfg(spec or name, source_size, output_size)
    except ValueError as error:
        row['note'] = str(error)
        return row
    torch.manual_seed(0)
    model = build_upsampler(cfg, in_channels=channels, guidance_channels=3).to(device)
    row['guidance'] = model.guidance_type or '-'
    row['params'] = count_parameters(model)
    gen = torch.Generator().manual_seed(0)
    source = torch.randn(batch, channels, *source_size, generator=gen).to(device)
    guidance = torch.rand(batch, 3, *output_size, generator=gen).to(device)
    model.eval()

    def forward() -> None:
        with torch.no_grad():
            model(source, guidance, output_size=output_size)

    src = source.clone().requires_grad_(True)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        src.grad = None
        model(src, guidance, output_size=output_size).sum().backward()

    row['fwd_ms'], row['fwd_cpu_ms'] = time_ms(forward, repeats)  # the warm-up validates
    if device.type == 'cpu':
        row['flops'], row['uncounted'] = count_flops(model, source, guidance, output_size)
    else:
        row['flops'], row['uncounted'] = None, 'see CPU row'
    row['peak_fwd_mb'] = peak_bytes(forward, device) / 2**20
    model.train()
    row['fwdbwd_ms'], row['fwdbwd_cpu_ms'] = time_ms(forward_backward, repeats)
    row['peak_fwdbwd_mb'] = peak_bytes(forward_backward, device) / 2**20
    model.eval()
    return row
