"""Trained upsamplers vs interpolation on held-out photos: per-photo scores, paired statistics.

The question of FeatUp's training ("does the trained JBU reconstruct held-out features better
than bilinear?") is answered per photo: every photo is scored by every method on the same
jittered views, so the per-photo difference removes the photo's own difficulty. With ``S``
seeds (independent trainings) and ``N`` photos:

* ``gain`` = 1 - mean(trained rel-MSE) / mean(bilinear rel-MSE), over seeds and photos;
* ``paired SE`` = the standard error over photos of d_i = bilinear_i - mean_s trained_{s,i},
  relative to the bilinear mean (so it compares with ``gain`` directly; the bilinear mean is
  treated as fixed);
* ``seed SE`` = std of the per-seed gains / sqrt(S): a seed that is better on every photo moves
  every d_i alike, which the paired SE cannot see;
* ``total SE`` = sqrt(paired SE^2 + seed SE^2), what :func:`verdict` holds against the gain
  (the claim is about the training recipe, so both photos and seeds are samples).
"""
from __future__ import annotations

import math
import statistics
from typing import Any, Dict, List, Sequence

from .report import mean_std


def paired_gain(baseline: Sequence[float], trained: Sequence[Sequence[float]]) -> Dict[str, Any]:
    """Relative gain of ``trained`` (lower is better) over ``baseline``, paired by photo.

    Args:
        baseline (Sequence[float]): the baseline's score per photo (e.g. bilinear rel-MSE).
        trained (Sequence[Sequence[float]]): per seed, the trained model's score per photo,
            in the same photo order.

    Returns:
        dict: ``gain``, ``paired_se``, ``seed_se`` and ``total_se`` (fractions of the baseline
        mean), ``seed_gains``, ``seed_gain_std``, ``photos_better`` (photos where the seed mean
        beats the baseline), ``num_photos``, ``num_seeds``.

    Raises:
        ValueError: no seeds, fewer than two photos, a seed with another photo count, a
            non-finite score or a baseline mean <= 0.
    """
    n = len(baseline)
    if not trained or n < 2:
        raise ValueError(f'need >= 1 seed and >= 2 photos, got {len(trained)} seeds, {n} photos')
    if any(len(scores) != n for scores in trained):
        raise ValueError(f'every seed needs {n} photo scores, got {[len(s) for s in trained]}')
    values = [*baseline, *(v for scores in trained for v in scores)]
    if not all(math.isfinite(v) for v in values):
        raise ValueError('paired_gain: every score must be finite')
    base_mean = statistics.fmean(baseline)
    if base_mean <= 0:
        raise ValueError(f'paired_gain: the baseline mean must be > 0, got {base_mean}')
    seed_mean = [statistics.fmean(scores[i] for scores in trained) for i in range(n)]
    diffs = [b - t for b, t in zip(baseline, seed_mean)]
    seed_gains = [1.0 - statistics.fmean(scores) / base_mean for scores in trained]
    paired_se = statistics.stdev(diffs) / math.sqrt(n) / base_mean
    seed_gain_std = mean_std(seed_gains)[1]
    seed_se = seed_gain_std / math.sqrt(len(trained))
    return dict(gain=statistics.fmean(diffs) / base_mean, paired_se=paired_se, seed_se=seed_se,
                total_se=math.hypot(paired_se, seed_se),
                seed_gains=seed_gains, seed_gain_std=seed_gain_std,
                photos_better=sum(d > 0 for d in diffs), num_photos=n, num_seeds=len(trained))


def verdict(stats: Dict[str, Any], min_gain: float = 0.05, se_fraction: float = 1 / 3) -> str:
    """``'met'`` when ``gain >= min_gain`` and ``total_se < se_fraction * gain``, else why not.

    Args:
        stats (dict): :func:`paired_gain`'s result.
        min_gain (float): the least relative gain. Default: 0.05.
        se_fraction (float): the largest total SE as a fraction of the gain. Default: 1/3.

    Returns:
        str: ``'met'`` or the failed condition(s), e.g. ``'gain 2.9% < 5.0%'``.
    """
    failed: List[str] = []
    if stats['gain'] < min_gain:
        failed.append(f'gain {100 * stats["gain"]:.1f}% < {100 * min_gain:.1f}%')
    if not stats['total_se'] < se_fraction * max(stats['gain'], 0.0):
        failed.append(f'total SE {100 * stats["total_se"]:.2f}% >= {se_fraction:.2f} x gain')
    return 'met' if not failed else 'not met: ' + '; '.join(failed)


def _pair_line(name: str, stats: Dict[str, Any], unit: str) -> str:
    """One Markdown line of :func:`paired_gain`'s result for row ``name`` (``unit``: what the
    pairs are, e.g. ``'photos'``)."""
    return (f'- {name}: gain {100 * stats["gain"]:.2f}% (total SE {100 * stats["total_se"]:.2f}%, '
            f'{stats["num_seeds"]} seeds), better on {stats["photos_better"]}/'
            f'{stats["num_photos"]} {unit}')


def _matched_seed_se(base: Sequence[Sequence[float]], row: Sequence[Sequence[float]],
                     keep: Sequence[int]) -> float:
    """SE of the per-seed gains when row seed ``s`` and baseline seed ``s`` share a probe seed:
    ``std_s(1 - mean(row_s) / mean(base_s)) / sqrt(S)``, which holds the baseline's seed noise
    too."""
    gains = [1.0 - statistics.fmean(100 - r[i] for i in keep) /
             statistics.fmean(100 - b[i] for i in keep) for b, r in zip(base, row)]
    return mean_std(gains)[1] / math.sqrt(len(gains))


def probe_pairs(probe: Dict[str, Any], baseline: str = 'Bilinear') -> List[str]:
    """Linear-probe rows against ``baseline``, paired by validation image (markdown lines).

    Each row's per-image pixel error (100 - pixel accuracy) over its seeds is compared with the
    baseline's, averaged per image over the baseline's seeds (a parameter-free baseline differs
    across seeds only by the probe's seed), by :func:`paired_gain`. When both have the same
    seeds (seed ``s`` of each used probe seed ``s``), the seed SE is that of the matched
    per-seed gains, so the baseline's probe-seed noise counts too. Images without labelled
    pixels (NaN accuracy) are left out.

    Args:
        probe (dict): :func:`~mmfeatup.benchmark.quality_probe.run_probe`'s results.
        baseline (str): the row to compare with. Default: ``'Bilinear'``.

    Returns:
        list[str]: a header and one line per other row with per-image scores (a row whose
        statistics cannot be computed says why); empty when the baseline has none.
    """
    base = probe.get(baseline, {}).get('acc_per_image') or []
    if not base or len(base[0]) < 2 or any(len(seed) != len(base[0]) for seed in base):
        return []
    count = len(base[0])
    base_error = [100 - statistics.fmean(seed[i] for seed in base) for i in range(count)]
    lines = [f'Linear probe paired by validation image ({count} images), pixel error '
             f'(100 - acc) against {baseline} (gain > 0: fewer errors):\n']
    for name, entry in probe.items():
        seeds = entry.get('acc_per_image') or []
        if name == baseline or not seeds or any(len(s) != count for s in seeds):
            continue
        keep = [i for i, v in enumerate(base_error)
                if math.isfinite(v) and all(math.isfinite(s[i]) for s in seeds)]
        try:
            stats = paired_gain([base_error[i] for i in keep],
                                [[100 - s[i] for i in keep] for s in seeds])
        except ValueError as error:
            lines.append(f'- {name}: not computed ({error})')
            continue
        if len(seeds) == len(base) > 1 and entry.get('seeds') and \
                entry['seeds'] == probe[baseline].get('seeds'):
            stats['seed_se'] = _matched_seed_se(base, seeds, keep)
            stats['total_se'] = math.hypot(stats['paired_se'], stats['seed_se'])
        lines.append(_pair_line(name, stats, 'images'))
    return lines + ['']


def recon_pairs(recon: Dict[str, Any], baseline: str = 'Bilinear') -> List[str]:
    """Reconstruction rows against ``baseline``, paired by held-out photo (markdown lines).

    Each other row's per-photo rel-MSE (one list per seed) against the baseline's (a
    parameter-free baseline: its one scoring), by :func:`paired_gain`.

    Args:
        recon (dict): :func:`~mmfeatup.benchmark.quality_recon.run_recon`'s results (with
            ``per_image``).
        baseline (str): the row to compare with. Default: ``'Bilinear'``.

    Returns:
        list[str]: a header and one line per other row (a row whose statistics cannot be
        computed says why); empty when the baseline has no per-photo scores.
    """
    base = recon.get(baseline, {}).get('per_image') or []
    if not base or not base[0]:
        return []
    lines = [f'Reconstruction paired by held-out photo ({len(base[0])} photos), rel-MSE against '
             f'{baseline} (gain > 0: lower error; total SE = paired SE over photos and seed SE):\n']
    for name, entry in recon.items():
        seeds = [s for s in entry.get('per_image') or [] if s]
        if name == baseline or not seeds:
            continue
        try:
            stats = paired_gain(base[0], seeds)
        except ValueError as error:
            lines.append(f'- {name}: not computed ({error})')
            continue
        lines.append(_pair_line(name, stats, 'photos'))
    return lines + ['']
