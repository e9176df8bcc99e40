"""The upsampler benchmark's report: statistics, Markdown tables, ``results.md/json``."""
from __future__ import annotations

import json
import math
import os
import os.path as osp
import platform
import statistics
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch


def mean_std(values: Sequence[Optional[float]]) -> Tuple[float, float]:
    """Mean and sample standard deviation, ignoring None and NaN.

    Args:
        values (Sequence[float]): the values (e.g. one per seed).

    Returns:
        tuple[float, float]: ``(mean, std)``; std is 0 for one value, both NaN for none.
    """
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return float('nan'), float('nan')
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _fmt(value: Any, digits: int = 1) -> str:
    """A table cell: floats with ``digits`` decimals, None and NaN as ``-``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return str(value)


def _pm(values: Sequence[float], digits: int) -> str:
    """``mean ± std (n=N)``, or ``-`` for no values."""
    if not values:
        return '-'
    mean, std = mean_std(values)
    return f'{mean:.{digits}f} ± {std:.{digits}f} (n={len(values)})'


def _mean_cell(values: Sequence[float]) -> str:
    """The mean of ``values`` without decimals, ``-`` for none."""
    return _fmt(mean_std(values)[0], 0) if values else '-'


def _scored(row: Dict[str, Any], key: str, digits: int) -> str:
    """A quality cell: ``mean ± std (n=N)`` of the seeds that ran, and any failure."""
    values, error = row.get(key) or [], row.get('error')
    if not error:
        return _pm(values, digits)
    return f'{_pm(values, digits)} (failed: {error})' if values else f'failed: {error}'


def cost_table(rows: Sequence[Dict[str, Any]]) -> List[str]:
    """The cost table, one Markdown line per row.

    Args:
        rows (Sequence[dict]): cost rows (:func:`mmfeatup.benchmark.cost.measure_cost`).

    Returns:
        list[str]: header, separator and one line per row.
    """
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


def quality_table(names: Sequence[str], recon: Dict[str, Any], seg: Dict[str, Any],
                  probe: Optional[Dict[str, Any]] = None) -> List[str]:
    """The quality table: reconstruction, linear-probe and segmentation results per upsampler.

    Args:
        names (Sequence[str]): the rows, in order.
        recon (dict): reconstruction results by name.
        seg (dict): segmentation results by name.
        probe (dict, optional): linear-probe results by name.

    Returns:
        list[str]: header, separator and one line per name.
    """
    probe = probe or {}
    lines = ['| upsampler | recon rel-MSE (lower better) | recon cosine | train s/seed | '
             'probe mIoU | probe pixel acc | seg mIoU | seg boundary F | seg s/seed |',
             '|---|---|---|---|---|---|---|---|---|']
    for name in names:
        r, s, p = recon.get(name, {}), seg.get(name, {}), probe.get(name, {})
        recon_mse = _scored(r, 'rel_mse', 4)
        if r and not r.get('error') and r.get('trained') is False:
            recon_mse += ' (no params)'
        seg_miou, probe_miou = _scored(s, 'mIoU', 2), _scored(p, 'mIoU', 2)
        lines.append(f'| {name} | {recon_mse} | {_pm(r.get("cos", []), 4)} | '
                     f'{_mean_cell(r.get("seconds", []))} | '
                     f'{probe_miou} | {_pm(p.get("acc", []), 2)} | '
                     f'{seg_miou} | {_pm(s.get("bF", []), 2)} | '
                     f'{_mean_cell(s.get("seconds", []))} |')
    return lines


def environment() -> Dict[str, Any]:
    """What the timings depend on: torch, ops backend, threads, load, CPUs, GPU, date."""
    from mmfeatup import ops
    return dict(torch=torch.__version__, ops_backend=ops.backend(), threads=torch.get_num_threads(),
                load_average=[round(v, 2) for v in os.getloadavg()],
                cpu_count=os.cpu_count(), cuda=torch.cuda.get_device_name(0)
                if torch.cuda.is_available() else None, platform=platform.platform(),
                date=time.strftime('%Y-%m-%d %H:%M:%S %Z'))


def results_markdown(command: str, env: Dict[str, Any], variants: Dict[str, Dict[str, Any]],
                     cost: Sequence[Dict[str, Any]], quality: Optional[Dict[str, Any]] = None,
                     final: bool = True) -> List[str]:
    """The lines of ``results.md``.

    Args:
        command (str): the command line of the run.
        env (dict): :func:`environment`.
        variants (dict): the ``--variant`` configs by label.
        cost (Sequence[dict]): the cost rows.
        quality (dict, optional): ``names``, ``recon``, ``seg`` and ``note`` (how the
            quality was measured); None or empty results: no quality section.
        final (bool): False marks the report partial (still running). Default: True.

    Returns:
        list[str]: the lines.
    """
    lines = ['# Upsampler benchmark\n', f'Command: `{command}`\n',
             f'Environment: torch {env["torch"]}, mmfeatup ops backend '
             f'**{env["ops_backend"]}**, {env["threads"]} torch threads, {env["cpu_count"]} '
             f'CPUs, GPU: {env["cuda"]}, load average at start {env["load_average"]} (timings '
             f'of a shared CPU are noisy), {env["date"]}.'
             + ('' if final else ' **PARTIAL: still running.**') + '\n',
             *[f'Variant `{label}`: `{spec}`\n' for label, spec in variants.items()],
             '## Cost\n', *cost_table(cost), '']
    if quality and (quality['recon'] or quality['seg'] or quality.get('probe')):
        lines += ['## Quality\n', quality['note'] + ' Values: mean ± sample std over seeds.\n',
                  *quality_table(quality['names'], quality['recon'], quality['seg'],
                                quality.get('probe')), '',
                  *curve_table(quality['names'], quality['recon'])]
    return lines


def write_results(out: str, lines: Sequence[str], data: Dict[str, Any]) -> None:
    """Write ``out/results.md`` (the lines) and ``out/results.json`` (``data``).

    Args:
        out (str): an existing folder.
        lines (Sequence[str]): :func:`results_markdown`.
        data (dict): everything measured (JSON; other values as ``str``).
    """
    with open(osp.join(out, 'results.md'), 'w') as f:
        f.write('\n'.join(lines))
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(data, f, indent=1, default=str)


#: A learning curve counts as flat when, over its last third, no seed-mean rel-MSE point is
#: further than this (relative) from the final one.
FLAT_CHANGE = 0.01


def mean_curve(curves: Sequence[Sequence[Dict[str, float]]],
               key: str = 'rel_mse') -> List[Tuple[int, float]]:
    """The seed-mean learning curve.

    Args:
        curves (Sequence[Sequence[dict]]): per seed, the points (``iter`` and ``key``).
        key (str): the score. Default: ``'rel_mse'``.

    Returns:
        list[tuple[int, float]]: ``(iter, mean)`` at the steps every seed scored, in order.
    """
    curves = [c for c in curves if c]
    if not curves:
        return []
    common = set.intersection(*({p['iter'] for p in c} for c in curves))
    return [(step, statistics.fmean(p[key] for c in curves for p in c if p['iter'] == step))
            for step in sorted(common)]


def last_third_change(curve: Sequence[Tuple[int, float]]) -> Optional[Dict[str, float]]:
    """How much a mean curve still moves over the last third of its budget.

    The window starts at the last scored step at or before two thirds of the final step.

    Args:
        curve (Sequence[tuple]): :func:`mean_curve`.

    Returns:
        dict | None: ``since`` (the window's first step), ``trend`` (``(v_end - v_since) /
        v_end``, negative: still falling) and ``largest`` (the largest ``|v - v_end| / v_end``
        in the window); None with fewer than two points or no point in the window's start.
    """
    if len(curve) < 2:
        return None
    end_step, end = curve[-1]
    starts = [i for i, (step, _) in enumerate(curve[:-1]) if step <= 2 * end_step / 3]
    if not starts or not end:
        return None
    window = curve[starts[-1]:]
    return dict(since=window[0][0], trend=(end - window[0][1]) / end,
                largest=max(abs(v - end) for _, v in window) / abs(end))


def curve_table(names: Sequence[str], recon: Dict[str, Any]) -> List[str]:
    """Held-out rel-MSE during training (seed means) and whether each curve has flattened.

    Args:
        names (Sequence[str]): the rows, in order.
        recon (dict): reconstruction results by name (with ``curve`` lists).

    Returns:
        list[str]: the lines (empty when no row has a curve of two points or more).
    """
    curves = {n: mean_curve(recon.get(n, {}).get('curve') or []) for n in names}
    curves = {n: c for n, c in curves.items() if len(c) > 1}
    if not curves:
        return []
    steps = sorted({step for c in curves.values() for step, _ in c})
    lines = ['| upsampler | ' + ' | '.join(f'step {s}' for s in steps)
             + ' | last third: trend (largest change, since step) | flat |',
             '|---|' + '---|' * (len(steps) + 2)]
    for name, curve in curves.items():
        values = dict(curve)
        change = last_third_change(curve)
        if change is None:
            moved, flat = '-', '-'
        else:
            moved = (f'{100 * change["trend"]:+.2f}% ({100 * change["largest"]:.2f}%, '
                     f'{change["since"]})')
            flat = 'yes' if change['largest'] < FLAT_CHANGE else 'no'
        lines.append(f'| {name} | ' + ' | '.join(_fmt(values.get(s), 4) for s in steps)
                     + f' | {moved} | {flat} |')
    return ['### Learning curves (held-out recon rel-MSE, mean over seeds)\n',
            f'"flat": over the last third of the budget no point is more than '
            f'{100 * FLAT_CHANGE:.0f}% from the final value.\n', *lines, '']
