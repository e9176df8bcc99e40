"""Benchmark every registered feature upsampler: cost and quality.

For each upsampler in :data:`mmfeatup.registry.UPSAMPLERS` (or ``--only``):

* cost, per ``--sizes`` x ``--channels`` x device: parameters, FLOPs
  (mmengine's ``FlopAnalyzer``; see "FLOP convention" below), forward latency
  (eval, no grad), forward+backward latency (train mode, ``out.sum()``), peak
  memory of both (CUDA: ``max_memory_allocated``; CPU: the torch profiler's
  allocation records, op granularity), on CPU and on CUDA when present;
* quality ``recon``: FeatUp's held-out multi-view feature reconstruction with
  the frozen ImageNet EfficientNet-Lite0 (stride 16): every upsampler with
  parameters is trained with :func:`mmfeatup.apis.train_upsampler` with the
  same budget (``--iters``) for every seed in ``--seeds``, then scored with
  :func:`mmfeatup.apis.evaluate_reconstruction` on the held-out photos (the
  same views for every upsampler); parameter-free ones are scored once;
* quality ``seg``: end-to-end segmentation on the bundled demo dataset with
  ``--seg-config`` (default: the demo data with the ImageNet EfficientNet-Lite0
  backbone), the neck's upsampler replaced by ``type=NAME``, ``--seg-iters``
  iterations per seed, mIoU and boundary F-score.

``--variant LABEL TYPE key=value ...`` adds rows that are not plain registered
names, e.g. a FeatUp-pretrained JBU
(``--variant JBUStack-FeatUp JBUStack checkpoint=work_dirs/.../upsampler.pth``:
:class:`~mmfeatup.models.upsamplers.JBUStack` loads the trained stages into
every neck level, whatever its channels).

Outputs in ``--out``: ``results.md`` (tables), ``results.json`` and
``speed_vs_quality.png``.

FLOP convention: mmengine/fvcore's, one multiply-add = 1 FLOP for
convolutions and matrix products; this script adds handles that count
element-wise ops (mul, add, div, exp, softmax, sum ...) and bicubic
resampling (16 per output) as one FLOP per output element, and the mmfeatup
custom ops with :mod:`mmfeatup.analysis.flop_handles` (``adaptive_conv``:
``C*T`` per output pixel, ``range_kernel``: ``D*T``). Ops still not counted are
listed in the table's last column.

Examples::

    # cost only, the issue's setting (C=384, 14x14 -> 224x224, batch 1)
    python tools/analysis_tools/benchmark_upsamplers.py --quality none
    # everything with the default budget (20 recon steps x 2 seeds per trained upsampler,
    # 30 seg iterations x 2 seeds for bilinear and JBUStack): ~20-25 min on an idle 2-core CPU
    OMP_NUM_THREADS=1 nice python tools/analysis_tools/benchmark_upsamplers.py --quality all --threads 1
    # segmentation: bilinear vs JBU from scratch vs a JBU pre-trained with FeatUp's loss
    python tools/analysis_tools/benchmark_upsamplers.py --quality seg --threads 1 --seeds 0 1 2 \
        --variant JBUStack-FeatUp JBUStack \
        checkpoint=mmfeatup/weights/jbu_efficientnet-lite0-s16_featup-600it.pth
    # a tiny end-to-end check
    python tools/analysis_tools/benchmark_upsamplers.py --sizes 4x4:16x16 --channels 8 \
        --quality recon --iters 1 --seeds 0 --views 1 --recon-crop 64 --only Bilinear JBUStack
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import json
import math
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

import mmfeatup.models  # noqa: F401  (registers every upsampler)
from mmfeatup.registry import UPSAMPLERS, build_upsampler

Size = Tuple[int, int]
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Default upsamplers of the (expensive) segmentation comparison.
DEFAULT_SEG = ('Bilinear', 'JBUStack')
#: Quality runs start with these (the issue's targets), so a run cut short still has them.
PRIORITY = ('Bilinear', 'JBUStack')


# ----------------------------------------------------------------------------------------------
# Progress
# ----------------------------------------------------------------------------------------------

class Progress:
    """tqdm when installed, else one line per step with count, elapsed time and ETA."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.start = time.perf_counter()
        try:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=desc, file=sys.stdout, dynamic_ncols=True)
        except ImportError:
            self.bar = None

    def step(self, label: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(label)
            self.bar.update(1)
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        print(f'[{self.desc}] {self.done}/{self.total} {label} '
              f'elapsed {elapsed:.0f}s eta {eta:.0f}s', flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ----------------------------------------------------------------------------------------------
# Building
# ----------------------------------------------------------------------------------------------

def parse_size(text: str) -> Tuple[Size, Size]:
    """``'14x14:224x224'`` -> ``((14, 14), (224, 224))``."""
    try:
        src, dst = text.lower().split(':')
        source = tuple(int(v) for v in src.split('x'))
        output = tuple(int(v) for v in dst.split('x'))
        assert len(source) == 2 and len(output) == 2 and min(source + output) > 0
    except (ValueError, AssertionError):
        raise argparse.ArgumentTypeError(
            f'--sizes entries look like 14x14:224x224 (source:output), got {text!r}') from None
    return source, output  # type: ignore[return-value]


def design_ratio(source: Size, output: Size) -> Optional[int]:
    """The integer ratio shared by both axes, else None."""
    ratios = {output[0] / source[0], output[1] / source[1]}
    ratio = ratios.pop()
    return int(ratio) if not ratios and ratio == int(ratio) and ratio >= 1 else None


def parse_variant(tokens: Sequence[str]) -> Tuple[str, Dict[str, Any]]:
    """``LABEL TYPE [key=value ...]`` (one ``--variant``) -> ``(LABEL, dict(type=TYPE, ...))``.

    Values are Python literals where they parse as one (``radius=2``), else strings
    (``checkpoint=work_dirs/x/upsampler.pth``).
    """
    if len(tokens) < 2:
        raise ValueError(f'--variant needs LABEL TYPE [key=value ...], got {list(tokens)}')
    label, kind, *options = tokens
    if kind not in UPSAMPLERS.module_dict:
        raise ValueError(f'--variant {label}: {kind!r} is not a registered upsampler')
    spec: Dict[str, Any] = dict(type=kind)
    for option in options:
        key, sep, text = option.partition('=')
        if not sep or not key.isidentifier() or key == 'type':
            raise ValueError(f'--variant {label}: expected key=value, got {option!r}')
        try:
            spec[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            spec[key] = text
    return label, spec


def spec_of(name: str, variants: Optional[Dict[str, Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The upsampler config of a table row: a ``--variant`` label or a registered name."""
    return dict((variants or {}).get(name) or dict(type=name))


def upsampler_cfg(name: Union[str, Dict[str, Any]], source: Size, output: Size) -> Dict[str, Any]:
    """Config of ``name`` (a registered name or a config dict) for ``source -> output``;
    fixed-ratio modules get ``scale_factor``."""
    ratio = design_ratio(source, output)
    cfg: Dict[str, Any] = dict(type=name) if isinstance(name, str) else dict(name)
    if ratio is not None:
        cfg['scale_factor'] = ratio
    elif UPSAMPLERS.get(cfg['type']).integer_ratio_only:
        raise ValueError(f'{cfg["type"]} needs one integer ratio; {source} -> {output} has none')
    else:  # a design ratio close to the request (DySample, JBU...)
        cfg['scale_factor'] = max(1, round(output[0] / source[0]))
    return cfg


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------------------------
# Cost
# ----------------------------------------------------------------------------------------------

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
    """``(flops, uncounted ops)`` of one forward (eval mode)."""
    from mmengine.analysis import FlopAnalyzer
    from mmengine.analysis.jit_handles import elementwise_flop_counter

    from mmfeatup.analysis import flop_handle_table

    analyzer = FlopAnalyzer(_Call(upsampler, size).eval(), (source, guidance))
    one = elementwise_flop_counter(0, 1)
    for op in ('aten::mul', 'aten::mul_', 'aten::add', 'aten::add_', 'aten::sub', 'aten::div',
               'aten::div_', 'aten::exp', 'aten::sigmoid', 'aten::gelu', 'aten::relu',
               'aten::relu_', 'aten::softmax', 'aten::_softmax', 'aten::sin', 'aten::cos',
               'aten::rsub', 'aten::neg', 'aten::pow', 'aten::square', 'aten::reflection_pad2d'):
        analyzer.set_op_handle(op, one)
    analyzer.set_op_handle('aten::sum', elementwise_flop_counter(1, 0))
    analyzer.set_op_handle('aten::upsample_bicubic2d', elementwise_flop_counter(0, 16))
    analyzer.set_op_handle('aten::pixel_shuffle', None)
    analyzer.set_op_handle('aten::unfold', None)
    analyzer.set_op_handle('aten::im2col', None)
    analyzer.set_op_handle('aten::index_select', None)
    analyzer.set_op_handle('aten::_upsample_nearest_exact2d', elementwise_flop_counter(0, 1))
    # the mmfeatup ops, set here too so that the count never depends on register_flop_handles()
    analyzer.set_op_handle(**flop_handle_table())
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            total = int(analyzer.total())
            unsupported = analyzer.unsupported_ops()
    except Exception as error:  # noqa: BLE001 - tracing can fail on exotic code
        return None, f'trace failed: {type(error).__name__}'
    uncounted = ', '.join(f'{op.replace("aten::", "")}x{n}' for op, n in sorted(unsupported.items()))
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
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    return _cpu_peak_bytes(fn)


def time_ms(fn: Callable[[], Any], device: torch.device, repeats: int,
            warmup: int = 1) -> Tuple[float, float]:
    """Median wall time and median process CPU time of ``fn``, in milliseconds.

    On a shared CPU the process CPU time (with ``--threads 1`` it is the compute
    time of one core) is far less sensitive to other processes than wall time.
    """
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        walls.append(1000 * (time.perf_counter() - start))
        cpus.append(1000 * (time.process_time() - start_cpu))
    return statistics.median(walls), statistics.median(cpus)


def measure_cost(name: str, source_size: Size, output_size: Size, channels: int, batch: int,
                 device: torch.device, repeats: int,
                 spec: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """One row of the cost table (``spec``: the config of a ``--variant`` row)."""
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

    row['fwd_ms'], row['fwd_cpu_ms'] = time_ms(forward, device, repeats)  # warm-up validates
    if device.type == 'cpu':
        row['flops'], row['uncounted'] = count_flops(model, source, guidance, output_size)
    else:
        row['flops'], row['uncounted'] = None, 'see CPU row'
    row['peak_fwd_mb'] = peak_bytes(forward, device) / 2**20
    model.train()
    row['fwdbwd_ms'], row['fwdbwd_cpu_ms'] = time_ms(forward_backward, device, repeats)
    row['peak_fwdbwd_mb'] = peak_bytes(forward_backward, device) / 2**20
    model.eval()
    return row


# ----------------------------------------------------------------------------------------------
# Quality: multi-view reconstruction
# ----------------------------------------------------------------------------------------------

def ensure_photos(photo_root: str) -> Tuple[str, str]:
    """``(train_dir, heldout_dir)``; runs ``collect_photos.py`` when they are missing."""
    train, heldout = osp.join(photo_root, 'train'), osp.join(photo_root, 'heldout')
    if not (osp.isdir(train) and osp.isdir(heldout)):
        script = osp.join(REPO, 'tools', 'dataset_converters', 'collect_photos.py')
        subprocess.run([sys.executable, script, '--out', photo_root], check=True)
    return train, heldout


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return float('nan'), float('nan')
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def run_recon(names: Sequence[str], seeds: Sequence[int], iters: int, photo_root: str,
              featurizer: str, crop: int, views: int, batch: int, stride: int,
              progress: Progress, results: Optional[Dict[str, Dict[str, Any]]] = None,
              on_update: Callable[[], None] = lambda: None,
              variants: Optional[Dict[str, Dict[str, Any]]] = None,
              lr: float = 1e-3) -> Dict[str, Dict[str, Any]]:
    """Train (same budget, same seeds, NAdam ``lr``) and score every upsampler on held-out
    photos."""
    from mmfeatup.apis import evaluate_reconstruction, train_upsampler
    train_dir, heldout_dir = ensure_photos(photo_root)
    grid = crop // stride
    results = {} if results is None else results
    for name in names:
        entry: Dict[str, Any] = dict(rel_mse=[], cos=[], seconds=[], seeds=[])
        try:
            cfg = upsampler_cfg(spec_of(name, variants), (grid, grid), (crop, crop))
            has_params = count_parameters(build_upsampler(cfg, in_channels=8)) > 0
            run_seeds = list(seeds) if has_params else list(seeds)[:1]
            for seed in run_seeds:
                start = time.perf_counter()
                model = train_upsampler(cfg, featurizer, train_dir, iters=iters if has_params else 0,
                                        seed=seed, batch_size=batch, crop_size=crop, lr=lr)
                seconds = time.perf_counter() - start
                scores = evaluate_reconstruction(model, featurizer, heldout_dir, n_views=views,
                                                 seed=0, crop_size=crop)
                entry['rel_mse'].append(float(scores['rel_mse']))
                entry['cos'].append(float(scores['cos']))
                entry['seconds'].append(seconds)
                entry['seeds'].append(seed)
                entry['num_images'] = scores.get('num_images')
        except Exception as error:  # noqa: BLE001 - report, keep benchmarking the others
            entry['error'] = f'{type(error).__name__}: {error}'[:200]
        entry['trained'] = bool(entry['seeds']) and has_params if 'error' not in entry else None
        results[name] = entry
        progress.step(f'recon {name}')
        on_update()
    return results


# ----------------------------------------------------------------------------------------------
# Quality: end-to-end segmentation
# ----------------------------------------------------------------------------------------------

#: The segmentation part's default: the demo data with the ImageNet EfficientNet-Lite0 backbone
#: (offline weights): a pretrained backbone makes a 30-iteration schedule meaningful.
SEG_CONFIG = osp.join(REPO, 'configs', 'demo', 'effnet-lite0_jbu_ade-demo-128x128.py')


def default_seg_config() -> Optional[str]:
    return SEG_CONFIG if osp.isfile(SEG_CONFIG) else None


def seg_config(base: str, name: Union[str, Dict[str, Any]], seed: int, iters: int, work_dir: str,
               data_root: str):
    """The demo config with the neck's upsampler replaced (by ``name``: a registered name or
    an upsampler config dict) and a fixed short schedule."""
    from mmfeatup.engine import load_config
    cfg = load_config(base)
    neck = cfg.model.get('neck')
    if neck is None or 'upsampler' not in neck:
        raise ValueError(f'{base}: model.neck.upsampler not found; not a FeatUpNeck config')
    neck.upsampler = dict(type=name) if isinstance(name, str) else dict(name)
    kind = neck.upsampler['type']
    if UPSAMPLERS.get(kind).integer_ratio_only or 'scale_factors' in neck:
        # fixed-ratio upsamplers need one ratio per level; assumes the usual pyramid
        # (level i has stride 4 * 2**i: MiT, ResNet) and the level-0 grid as output
        if neck.get('output_stride') not in (None, 4):
            raise ValueError(f'{kind}: per-level ratios are only derived for output_stride=4')
        neck.scale_factors = [2 ** level for level in neck.get('in_index', [1, 2, 3])]
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    original = int(cfg.train_cfg.get('max_iters', iters))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    schedulers = cfg.get('param_scheduler') or []
    factor = iters / max(1, original)
    for sched in [schedulers] if isinstance(schedulers, dict) else schedulers:
        if 'end' in sched:  # squeeze the schedule proportionally into the short run
            sched['end'] = max(1, round(sched['end'] * factor))
            sched['begin'] = min(round(sched.get('begin', 0) * factor), sched['end'] - 1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10**9, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(1, iters // 2))
    metric = dict(type='BoundaryFScore')
    evaluators = cfg.val_evaluator if isinstance(cfg.val_evaluator, list) else [cfg.val_evaluator]
    if not any(e.get('type') == 'BoundaryFScore' for e in evaluators):
        evaluators = list(evaluators) + [metric]
    cfg.val_evaluator = evaluators
    cfg.log_level = 'WARNING'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader) is None:
            continue
        cfg[loader].num_workers = 0  # in-process, no worker processes per run
        cfg[loader].persistent_workers = False
        cfg[loader].dataset.data_root = data_root
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', []) if h.get('type') != 'ProgressBarHook']
    imports = cfg.get('custom_imports', dict(imports=[], allow_failed_imports=False))
    if 'mmfeatup.evaluation' not in imports['imports']:
        imports['imports'] = list(imports['imports']) + ['mmfeatup.evaluation']
    cfg.custom_imports = imports
    return cfg


def ensure_demo_dataset(data_root: str) -> str:
    """The demo dataset root; runs ``make_demo_dataset.py`` when it is missing."""
    if not osp.isdir(osp.join(data_root, 'images', 'validation')):
        script = osp.join(REPO, 'tools', 'dataset_converters', 'make_demo_dataset.py')
        subprocess.run([sys.executable, script, '--out', data_root], check=True)
    return data_root


def run_seg(names: Sequence[str], seeds: Sequence[int], iters: int, config: str, out: str,
            data_root: str, progress: Progress,
            results: Optional[Dict[str, Dict[str, Any]]] = None,
            on_update: Callable[[], None] = lambda: None,
            variants: Optional[Dict[str, Dict[str, Any]]] = None) -> Dict[str, Dict[str, Any]]:
    """Train/validate the demo segmentor once per upsampler and seed."""
    from mmengine.logging import MMLogger
    from mmengine.runner import Runner

    import mmfeatup.evaluation  # noqa: F401  (registers BoundaryFScore)
    results = {} if results is None else results
    for name in names:
        entry: Dict[str, Any] = dict(mIoU=[], bF=[], bPrecision=[], bRecall=[], seconds=[],
                                     seeds=[])
        results[name] = entry
        for seed in seeds:
            try:
                cfg = seg_config(config, spec_of(name, variants), seed, iters, osp.join(out, 'seg', name, f'seed{seed}'),
                                 ensure_demo_dataset(data_root))
                start = time.perf_counter()
                with open(os.devnull, 'w') as sink, contextlib.redirect_stdout(sink):
                    runner = Runner.from_cfg(cfg)
                    runner.train()
                    metrics = runner.val_loop.run()
                entry['seconds'].append(time.perf_counter() - start)
                entry['mIoU'].append(float(metrics['mIoU']))
                for key in ('bF', 'bPrecision', 'bRecall'):
                    entry[key].append(float(metrics[key]))
                entry['seeds'].append(seed)
                MMLogger._instance_dict.clear()
            except Exception as error:  # noqa: BLE001 - report, keep benchmarking the others
                entry['error'] = f'{type(error).__name__}: {error}'[:200]
                progress.step(f'seg {name} seed {seed} FAILED')
                break
            progress.step(f'seg {name} seed {seed}')
            on_update()
    return results


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------

def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return str(value)


def _pm(values: Sequence[float], digits: int) -> str:
    if not values:
        return '-'
    mean, std = mean_std(values)
    return f'{mean:.{digits}f} ± {std:.{digits}f} (n={len(values)})'


def cost_table(rows: Sequence[Dict[str, Any]]) -> List[str]:
    lines = ['| upsampler | guidance | source -> output | C | B | device | params | GFLOPs | '
             'fwd ms (CPU ms) | fwd+bwd ms (CPU ms) | peak MB fwd | peak MB fwd+bwd | '
             'not counted in FLOPs |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        size = f'{r["source"][0]}x{r["source"][1]} -> {r["output"][0]}x{r["output"][1]}'
        if 'note' in r:
            lines.append(f'| {r["name"]} | | {size} | {r["channels"]} | {r["batch"]} | '
                         f'{r["device"]} | n/a: {r["note"]} | | | | | | |')
            continue
        flops = None if r.get('flops') is None else r['flops'] / 1e9
        lines.append(
            f'| {r["name"]} | {r["guidance"]} | {size} | {r["channels"]} | {r["batch"]} | '
            f'{r["device"]} | {r["params"]:,} | {_fmt(flops, 2)} | {_fmt(r["fwd_ms"])} '
            f'({_fmt(r.get("fwd_cpu_ms"))}) | {_fmt(r["fwdbwd_ms"])} '
            f'({_fmt(r.get("fwdbwd_cpu_ms"))}) | {_fmt(r["peak_fwd_mb"])} | '
            f'{_fmt(r["peak_fwdbwd_mb"])} | '
            f'{r.get("uncounted", "-")} |')
    return lines


def quality_table(names: Sequence[str], recon: Dict[str, Any], seg: Dict[str, Any]) -> List[str]:
    lines = ['| upsampler | recon rel-MSE (lower better) | recon cosine | train s/seed | '
             'seg mIoU | seg boundary F | seg s/seed |', '|---|---|---|---|---|---|---|']
    for name in names:
        r, s = recon.get(name, {}), seg.get(name, {})
        recon_mse = r.get('error') and f'failed: {r["error"]}' or _pm(r.get('rel_mse', []), 4)
        if r and not r.get('error') and r.get('trained') is False:
            recon_mse += ' (no params)'
        seg_miou = s.get('error') and f'failed: {s["error"]}' or _pm(s.get('mIoU', []), 2)
        lines.append(f'| {name} | {recon_mse} | {_pm(r.get("cos", []), 4)} | '
                     f'{_fmt(mean_std(r.get("seconds", []))[0], 0) if r.get("seconds") else "-"} | '
                     f'{seg_miou} | {_pm(s.get("bF", []), 2)} | '
                     f'{_fmt(mean_std(s.get("seconds", []))[0], 0) if s.get("seconds") else "-"} |')
    return lines


#: The quality measures a plot panel can show: (key of the results, results dict name, title).
QUALITY_PANELS = (('rel_mse', 'recon', 'recon rel-MSE (lower is better)'),
                  ('mIoU', 'seg', 'seg mIoU, % (higher is better)'),
                  ('bF', 'seg', 'seg boundary F, % (higher is better)'))


def _plot_setting(cost: Sequence[Dict[str, Any]]) -> Tuple[Optional[Dict[str, Any]],
                                                           Dict[str, Dict[str, Any]]]:
    """The first measured cost setting and its rows by upsampler name.

    Args:
        cost (Sequence[dict]): the cost rows.

    Returns:
        tuple: the first row with a latency (None when there is none) and every row with a
        latency of the same size, channels, batch and device, by name.
    """
    first = next((r for r in cost if 'fwd_ms' in r), None)
    if first is None:
        return None, {}
    same = ('source', 'output', 'channels', 'batch', 'device')
    return first, {r['name']: r for r in cost
                   if 'fwd_ms' in r and all(r.get(k) == first.get(k) for k in same)}


def _setting_text(first: Dict[str, Any]) -> str:
    """The cost setting for an axis label, e.g. ``14x14 -> 224x224, C=384, batch 1, cpu``."""
    return (f'{first["source"][0]}x{first["source"][1]} -> {first["output"][0]}x'
            f'{first["output"][1]}, C={first["channels"]}, batch {first.get("batch", 1)}, '
            f'{first["device"]}')


def _short_count(value: Optional[float]) -> str:
    """``1234567`` -> ``1.23M``; None -> ``-``."""
    if value is None:
        return '-'
    for scale, unit in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
        if abs(value) >= scale:
            return f'{value / scale:.3g}{unit}'
    return f'{value:.3g}'


def _inside(box: Any, frame: Any) -> bool:
    """Whether ``box`` lies within ``frame`` (two matplotlib ``Bbox``)."""
    return (frame.x0 <= box.x0 and box.x1 <= frame.x1
            and frame.y0 <= box.y0 and box.y1 <= frame.y1)


def _free(box: Any, taken: Sequence[Any], pad: float) -> bool:
    """Whether ``box`` grown by ``pad`` pixels overlaps none of ``taken`` (``Bbox``)."""
    grown = box.padded(pad)
    return not any(grown.overlaps(other) for other in taken)


def annotate_apart(ax: Any, points: Sequence[Tuple[float, float]], labels: Sequence[str],
                   errors: Optional[Sequence[float]] = None, fontsize: float = 8) -> List[Any]:
    """Label points so that no label overlaps another label, a marker or an error bar.

    Each label takes the free place nearest to its point (beside, above or below it, then
    farther out), inside the axes when possible; a label that ends up away from its point
    gets a thin leader line. Works in display coordinates: call it once the axes' scales,
    limits and the figure's layout are final.

    Args:
        ax (matplotlib.axes.Axes): the axes.
        points (Sequence[tuple[float, float]]): the points, data coordinates.
        labels (Sequence[str]): one label per point.
        errors (Sequence[float], optional): the vertical error bar (+-) of each point, data
            units; None for none.
        fontsize (float): font size in points. Default: 8.

    Returns:
        list[matplotlib.text.Annotation]: the labels, in the order of ``points``.
    """
    from matplotlib.transforms import Bbox

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    unit = fig.dpi / 72  # pixels per point
    errors = list(errors) if errors is not None else [0.0] * len(points)
    obstacles = []  # markers and error bars
    for (x, y), err in zip(points, errors):
        (px, py), (_, low), (_, high) = ax.transData.transform([(x, y), (x, y - err),
                                                               (x, y + err)])
        obstacles.append(Bbox([[px - 4 * unit, min(low, py - 4 * unit)],
                               [px + 4 * unit, max(high, py + 4 * unit)]]))
    frame = ax.get_window_extent(renderer)
    placed: List[Any] = []
    labelled: List[Any] = [None] * len(points)
    display = ax.transData.transform(points)
    # bottom-up, left to right: a cluster's labels are placed in a stable order
    for index in sorted(range(len(points)), key=lambda i: (display[i][1], display[i][0])):
        px, py = display[index]
        probe = ax.text(0, 0, labels[index], fontsize=fontsize)
        size = probe.get_window_extent(renderer)
        probe.remove()
        width, height, near = size.width, size.height, 5 * unit
        rows = [-height / 2 + j * (height + unit) for j in range(-14, 15)]
        columns = [near, -near - width, -width / 2] + [
            dx for k in (1, 2, 3) for dx in (near + 2 * k * height,
                                              -near - width - 2 * k * height)]
        offsets = sorted(((dx, dy) for dx in columns for dy in rows),
                         key=lambda o: math.hypot(o[0] + width / 2, o[1] + height / 2))
        boxes = [Bbox.from_bounds(px + dx, py + dy, width, height) for dx, dy in offsets]
        taken = placed + obstacles
        choice = next((i for i, box in enumerate(boxes)
                       if _inside(box, frame) and _free(box, taken, unit)), None)
        if choice is None:  # no room inside the axes: outside, else on top of another
            choice = next((i for i, box in enumerate(boxes) if _free(box, taken, unit)), 0)
        chosen, box = offsets[choice], boxes[choice]
        gap = math.hypot(max(box.x0 - px, 0, px - box.x1), max(box.y0 - py, 0, py - box.y1))
        leader = dict(arrowstyle='-', lw=0.5, color='0.5', shrinkA=0, shrinkB=3)
        label = ax.annotate(labels[index], points[index], textcoords='offset points',
                            xytext=(chosen[0] / unit, chosen[1] / unit), ha='left', va='bottom',
                            fontsize=fontsize, arrowprops=leader if gap > 8 * unit else None)
        placed.append(box)
        labelled[index] = label
    return labelled


def _draw_cost(first: Dict[str, Any], rows: Dict[str, Dict[str, Any]]) -> Any:
    """No quality measure: one bar pair (forward, forward+backward latency) per upsampler.

    Args:
        first (dict): the first cost row (the setting of the plot).
        rows (dict): the cost rows of that setting by name.

    Returns:
        matplotlib.figure.Figure: the figure.
    """
    import matplotlib.pyplot as plt

    names = sorted(rows, key=lambda n: rows[n]['fwd_ms'], reverse=True)  # fastest on top
    series = [('fwd_ms', 'forward (eval, no grad)', 'tab:blue', 0.2),
              ('fwdbwd_ms', 'forward + backward (train mode)', 'tab:orange', -0.2)]
    values = [rows[n][k] for n in names for k, *_ in series if rows[n].get(k)]
    low = 10 ** math.floor(math.log10(min(values) / 1.5))
    high = 10 ** math.ceil(math.log10(max(values) * 4))
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.42 * len(names)))
    for key, legend, colour, shift in series:
        ys = [i + shift for i, n in enumerate(names) if rows[n].get(key)]
        widths = [rows[n][key] for n in names if rows[n].get(key)]
        ax.barh(ys, [w - low for w in widths], left=low, height=0.38, color=colour,
                label=legend)
        for y, width in zip(ys, widths):
            ax.text(width * 1.08, y, f'{width:.3g} ms', va='center', fontsize=7)
    ax.set_xscale('log')
    ax.set_xlim(low, high)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_yticks(range(len(names)), [
        f'{n}  ({_short_count(rows[n].get("params"))} params, '
        f'{_short_count(rows[n].get("flops"))} FLOPs)' for n in names])
    ax.set_xlabel(f'latency per call, ms (log scale, median of the timed repeats); '
                  f'{_setting_text(first)}')
    ax.set_ylabel('upsampler (parameters, FLOPs of one forward)')
    ax.set_title('Cost per upsampler, fastest on top (no quality measured: '
                 '--quality recon, seg or all adds it)', fontsize=10, pad=24)
    ax.grid(True, axis='x', alpha=0.3)
    ax.legend(loc='lower center', bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8,
              frameon=False)
    fig.tight_layout()
    return fig


def _draw_quality(first: Dict[str, Any], rows: Dict[str, Dict[str, Any]],
                  panels: Sequence[Tuple[str, Dict[str, Any], str]]) -> Any:
    """Forward latency vs each quality measure, one labelled point (mean ± std) per upsampler.

    Args:
        first (dict): the first cost row (the setting of the plot).
        rows (dict): the cost rows of that setting by name.
        panels (Sequence[tuple]): ``(key, results, title)`` of each measure shown.

    Returns:
        matplotlib.figure.Figure: the figure.
    """
    import matplotlib.pyplot as plt

    colours = {name: plt.get_cmap('tab20')(i % 20) for i, name in enumerate(sorted(rows))}
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.8), squeeze=False)
    labels = []
    for ax, (key, data, title) in zip(axes[0], panels):
        points, names, errors = [], [], []
        for name, row in rows.items():
            values = data.get(name, {}).get(key)
            if not values:
                continue
            mean, std = mean_std(values)
            ax.errorbar(row['fwd_ms'], mean, yerr=std, fmt='o', capsize=3, color=colours[name])
            points.append((row['fwd_ms'], mean))
            names.append(name)
            errors.append(std)
        labels.append((ax, points, names, errors))
        spread = max(p[0] for p in points) / min(p[0] for p in points) if points else 1.0
        if spread >= 3:  # latencies differ by orders of magnitude between upsamplers
            ax.set_xscale('log')
        ax.margins(x=0.25, y=0.15)
        ax.set_xlabel(f'forward latency, ms{" (log scale)" if spread >= 3 else ""}\n'
                      f'{_setting_text(first)}')
        ax.set_ylabel(title.split(' (')[0] + ' (mean ± std over seeds)')
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    for ax, points, names, errors in labels:  # once the layout is final
        annotate_apart(ax, points, names, errors)
    return fig


def draw_plot(cost: Sequence[Dict[str, Any]], recon: Dict[str, Any],
              seg: Dict[str, Any]) -> Any:
    """The benchmark's figure for the first cost setting (size, channels, device).

    With quality results (``--quality recon``, ``seg`` or ``all``): forward latency vs each
    measured quality, one panel per measure; without any (``--quality none``, or every
    quality run failed): forward and forward+backward latency bars per upsampler, with its
    parameters and FLOPs.

    Args:
        cost (Sequence[dict]): the cost rows.
        recon (dict): reconstruction results by upsampler name.
        seg (dict): segmentation results by upsampler name.

    Returns:
        matplotlib.figure.Figure | None: the figure; None without any measured latency.
    """
    import matplotlib
    matplotlib.use('Agg')

    first, rows = _plot_setting(cost)
    if first is None:
        return None
    results = dict(recon=recon, seg=seg)
    panels = [(key, results[source], title) for key, source, title in QUALITY_PANELS
              if any(results[source].get(name, {}).get(key) for name in rows)]
    return _draw_quality(first, rows, panels) if panels else _draw_cost(first, rows)


def plot(path: str, cost: Sequence[Dict[str, Any]], recon: Dict[str, Any],
         seg: Dict[str, Any]) -> bool:
    """Save :func:`draw_plot`'s figure to ``path``.

    Args:
        path (str): the image file to write.
        cost (Sequence[dict]): the cost rows.
        recon (dict): reconstruction results by upsampler name.
        seg (dict): segmentation results by upsampler name.

    Returns:
        bool: whether a figure was written (False without any measured latency).
    """
    import matplotlib.pyplot as plt

    fig = draw_plot(cost, recon, seg)
    if fig is None:
        return False
    fig.savefig(path, dpi=120, bbox_inches='tight')
    plt.close(fig)
    return True


def environment() -> Dict[str, Any]:
    from mmfeatup import ops
    return dict(torch=torch.__version__, ops_backend=ops.backend(), threads=torch.get_num_threads(),
                load_average=[round(v, 2) for v in os.getloadavg()],
                cpu_count=os.cpu_count(), cuda=torch.cuda.get_device_name(0)
                if torch.cuda.is_available() else None, platform=platform.platform(),
                date=time.strftime('%Y-%m-%d %H:%M:%S %Z'))


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', nargs='+', type=parse_size, default=[parse_size('14x14:224x224')],
                        help='source:output sizes, e.g. 14x14:224x224 7x9:100x120')
    parser.add_argument('--channels', nargs='+', type=int, default=[384], help='feature channels C')
    parser.add_argument('--batch', type=int, default=1, help='batch size of the cost runs')
    parser.add_argument('--device', choices=['auto', 'cpu', 'cuda'], default='auto',
                        help='auto: CPU, and CUDA too when present')
    parser.add_argument('--repeats', type=int, default=5, help='timed repeats (median)')
    parser.add_argument('--quality', choices=['none', 'recon', 'seg', 'all'], default='none')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1],
                        help='training seeds of the quality runs')
    parser.add_argument('--iters', type=int, default=20,
                        help='training steps of every trained upsampler (recon)')
    parser.add_argument('--recon-batch', type=int, default=2, help='images per recon step')
    parser.add_argument('--lr', type=float, default=1e-3,
                        help='NAdam learning rate of every recon training (section 2 of '
                        'docs/benchmarks.md trains the JBU with 3e-3)')
    parser.add_argument('--recon-crop', type=int, default=112,
                        help='image side of recon training/eval (features: side/16)')
    parser.add_argument('--views', type=int, default=3, help='held-out views per image (recon)')
    parser.add_argument('--featurizer', default='efficientnet_lite0_s16')
    parser.add_argument('--featurizer-stride', type=int, default=16)
    parser.add_argument('--photos', default=osp.join(REPO, 'data', 'photos'),
                        help='folder with train/ and heldout/ photos (made when missing)')
    parser.add_argument('--seg-config', default=None,
                        help='a FeatUpNeck config (default: configs/demo/'
                        'effnet-lite0_jbu_ade-demo-128x128.py)')
    parser.add_argument('--seg-data-root', default=osp.join(REPO, 'data', 'ade_demo'),
                        help='the demo dataset (made when missing)')
    parser.add_argument('--seg-iters', type=int, default=30, help='training iterations per seg run')
    parser.add_argument('--seg-only', nargs='+', default=None,
                        help=f'upsamplers of the seg runs (default {" ".join(DEFAULT_SEG)})')
    parser.add_argument('--only', nargs='+', default=None, help='benchmark only these upsamplers')
    parser.add_argument('--variant', nargs='+', action='append', metavar='LABEL TYPE key=value',
                        help='an extra row LABEL: upsampler TYPE with options, e.g. '
                        '--variant JBUStack-FeatUp JBUStack checkpoint=work_dirs/x/upsampler.pth '
                        '(a FeatUp-pretrained JBU); repeatable; always benchmarked (and in seg '
                        'unless --seg-only leaves it out)')
    parser.add_argument('--skip', nargs='+', default=[], help='leave these upsamplers out')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch\'s choice; 1 avoids OpenMP '
                        'spin contention on a shared, loaded CPU)')
    parser.add_argument('--out', default=osp.join(REPO, 'work_dirs', 'benchmark_upsamplers'))
    return parser.parse_args(argv)


def select_names(only: Optional[Sequence[str]], skip: Iterable[str],
                 variants: Optional[Dict[str, Dict[str, Any]]] = None) -> List[str]:
    clash = sorted(set(variants or {}) & set(UPSAMPLERS.module_dict))
    if clash:
        raise SystemExit(f'--variant labels {clash} are registered names; choose other labels')
    known = sorted(UPSAMPLERS.module_dict) + list(variants or {})
    names = list(only) + [v for v in variants or {} if v not in only] if only else known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f'unknown upsampler(s) {unknown}; registered: {", ".join(known)}')
    return [n for n in names if n not in set(skip)]


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    try:
        variants = dict(parse_variant(tokens) for tokens in args.variant or [])
    except ValueError as error:
        raise SystemExit(str(error)) from None
    names = select_names(args.only, args.skip, variants)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    devices = [torch.device('cpu')] if args.device in ('auto', 'cpu') else []
    if args.device in ('auto', 'cuda') and torch.cuda.is_available():
        devices.append(torch.device('cuda'))
    if not devices:
        raise SystemExit('--device cuda: no CUDA device is available')
    env = environment()
    print(f'upsamplers: {", ".join(names)}\nops backend: {env["ops_backend"]}, '
          f'torch {env["torch"]}, {env["threads"]} threads', flush=True)

    command = 'python tools/analysis_tools/benchmark_upsamplers.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)
    cost: List[Dict[str, Any]] = []
    recon: Dict[str, Any] = {}
    seg: Dict[str, Any] = {}
    notes = dict(seg='not run')

    def save(final: bool = False) -> None:
        """Write results.md/json now (after every step, so a cut-short run keeps its results)."""
        lines = ['# Upsampler benchmark\n', f'Command: `{command}`\n',
                 f'Environment: torch {env["torch"]}, mmfeatup ops backend '
                 f'**{env["ops_backend"]}**, {env["threads"]} torch threads, {env["cpu_count"]} '
                 f'CPUs, GPU: {env["cuda"]}, load average at start {env["load_average"]} (timings '
                 f'of a shared CPU are noisy), {env["date"]}.'
                 + ('' if final else ' **PARTIAL: still running.**') + '\n',
                 *[f'Variant `{label}`: `{spec}`\n' for label, spec in variants.items()],
                 '## Cost\n', *cost_table(cost), '']
        if recon or seg:
            recon_note = (f'Reconstruction: featurizer `{args.featurizer}`, {args.recon_crop}px '
                          f'crops, {args.iters} training steps x batch {args.recon_batch} (NAdam lr '
                          f'{args.lr}) per seed, seeds {args.seeds}, held-out photos '
                          f'`{args.photos}/heldout`, {args.views} views each (same views for all). '
                          if recon else 'Reconstruction: not run. ')
            lines += ['## Quality\n',
                      recon_note + 'Segmentation: ' + notes['seg'] + '. '
                      'Values: mean ± sample std over seeds.\n',
                      *quality_table(names, recon, seg), '']
        with open(osp.join(args.out, 'results.md'), 'w') as f:
            f.write('\n'.join(lines))
        with open(osp.join(args.out, 'results.json'), 'w') as f:
            json.dump(dict(env=env, command=command, final=final, cost=cost, recon=recon,
                           seg=seg), f, indent=1, default=str)
        if final:
            print('\n'.join(lines))

    jobs = [(n, s, c, d) for d in devices for s in args.sizes for c in args.channels for n in names]
    progress = Progress(len(jobs), 'cost')
    for name, (source, output), channels, device in jobs:
        cost.append(measure_cost(name, source, output, channels, args.batch, device, args.repeats,
                                 variants.get(name)))
        progress.step(f'{name} {device.type}')
        save()
    progress.close()

    # the targets first, so that a run cut short still has them
    ordered = sorted(names, key=lambda n: (PRIORITY.index(n) if n in PRIORITY else len(PRIORITY),
                                           n))
    if args.quality in ('recon', 'all'):
        progress = Progress(len(names), 'recon')
        run_recon(ordered, args.seeds, args.iters, args.photos, args.featurizer, args.recon_crop,
                  args.views, args.recon_batch, args.featurizer_stride, progress, recon, save,
                  variants, args.lr)
        progress.close()

    if args.quality in ('seg', 'all'):
        config = args.seg_config or default_seg_config()
        seg_names = [n for n in ordered if n in (args.seg_only or [*DEFAULT_SEG, *variants])]
        if config is None or not osp.isfile(config):
            notes['seg'] = f'skipped: demo config not found ({config})'
            print(notes['seg'], flush=True)
        else:
            notes['seg'] = (f'config `{osp.relpath(config, REPO)}`, {args.seg_iters} '
                            f'iterations, seeds {args.seeds}')
            progress = Progress(len(seg_names) * len(args.seeds), 'seg')
            run_seg(seg_names, args.seeds, args.seg_iters, config, args.out,
                    osp.abspath(args.seg_data_root), progress, seg, save, variants)
            progress.close()

    save(final=True)
    plotted = plot(osp.join(args.out, 'speed_vs_quality.png'), cost, recon, seg)
    print(f'results: {osp.join(args.out, "results.md")}'
          + (f', plot: {osp.join(args.out, "speed_vs_quality.png")}' if plotted else ''))
    return dict(cost=cost, recon=recon, seg=seg, env=env)


if __name__ == '__main__':
    main()
