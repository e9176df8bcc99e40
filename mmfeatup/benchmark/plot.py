"""The upsampler benchmark's figure: latency vs quality, or latency bars without quality."""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple

from .plot_labels import annotate_apart
from .report import mean_curve, mean_std

#: The quality measures a plot panel can show: (key of the results, results dict name, title).
QUALITY_PANELS = (('rel_mse', 'recon', 'recon rel-MSE (lower is better)'),
                  ('mIoU', 'probe', 'linear-probe mIoU, % (higher is better)'),
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
              seg: Dict[str, Any], probe: Optional[Dict[str, Any]] = None) -> Any:
    """The benchmark's figure for the first cost setting (size, channels, device).

    With quality results (``--quality recon``, ``seg`` or ``all``): forward latency vs each
    measured quality, one panel per measure; without any (``--quality none``, or every
    quality run failed): forward and forward+backward latency bars per upsampler, with its
    parameters and FLOPs.

    Args:
        cost (Sequence[dict]): the cost rows.
        recon (dict): reconstruction results by upsampler name.
        seg (dict): segmentation results by upsampler name.
        probe (dict, optional): linear-probe results by upsampler name.

    Returns:
        matplotlib.figure.Figure | None: the figure; None without any measured latency.
    """
    import matplotlib
    matplotlib.use('Agg')

    first, rows = _plot_setting(cost)
    if first is None:
        return None
    results = dict(recon=recon, seg=seg, probe=probe or {})
    panels = [(key, results[source], title) for key, source, title in QUALITY_PANELS
              if any(results[source].get(name, {}).get(key) for name in rows)]
    return _draw_quality(first, rows, panels) if panels else _draw_cost(first, rows)


def plot(path: str, cost: Sequence[Dict[str, Any]], recon: Dict[str, Any],
         seg: Dict[str, Any], probe: Optional[Dict[str, Any]] = None) -> bool:
    """Save :func:`draw_plot`'s figure to ``path``.

    Args:
        path (str): the image file to write.
        cost (Sequence[dict]): the cost rows.
        recon (dict): reconstruction results by upsampler name.
        seg (dict): segmentation results by upsampler name.
        probe (dict, optional): linear-probe results by upsampler name.

    Returns:
        bool: whether a figure was written (False without any measured latency).
    """
    import matplotlib.pyplot as plt

    fig = draw_plot(cost, recon, seg, probe)
    if fig is None:
        return False
    fig.savefig(path, dpi=120, bbox_inches='tight')
    plt.close(fig)
    return True


def plot_curves(path: str, recon: Dict[str, Any]) -> bool:
    """Save the learning curves (held-out rel-MSE vs training step, mean over seeds, one line
    per trained upsampler; parameter-free ones as horizontal lines) to ``path``.

    Args:
        path (str): the image file to write.
        recon (dict): reconstruction results by upsampler name (with ``curve``).

    Returns:
        bool: whether a figure was written (False when no upsampler has a curve).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    curves = {n: mean_curve(r.get('curve') or []) for n, r in recon.items() if r.get('trained')}
    curves = {n: c for n, c in curves.items() if len(c) > 1}
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(9, 5.5))
    cmap = plt.get_cmap('tab20')
    for i, (name, curve) in enumerate(sorted(curves.items())):
        ax.plot(*zip(*curve), marker='o', markersize=3, color=cmap(i % 20), label=name)
    end = max(c[-1][0] for c in curves.values())
    for name, r in recon.items():
        if r.get('trained') is False and r.get('rel_mse'):
            ax.axhline(mean_std(r['rel_mse'])[0], color='grey', linestyle='--', linewidth=1)
            ax.text(end, mean_std(r['rel_mse'])[0], f' {name}', va='center', fontsize=7)
    ax.set_yscale('log')  # untrained starts can be far above the rest
    ax.set_xlabel('training step')
    ax.set_ylabel('held-out recon rel-MSE (lower is better, log scale), mean over seeds')
    ax.set_title('Learning curves at equal budget (dashed: parameter-free)', fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc='upper right')
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches='tight')
    plt.close(fig)
    return True
