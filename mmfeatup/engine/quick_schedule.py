"""Shorten (or lengthen) a config's iteration schedule for a quick run.

One place for what ``tools/demo.py --iters``, the upsampler benchmark's segmentation
runs and the tests do to a shipped config: the iteration count, the validation and
checkpoint intervals and the learning-rate schedulers' ``begin`` / ``end``.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

from mmengine.config import Config


def _schedulers(cfg: Config) -> Iterable[Dict[str, Any]]:
    """The config's ``param_scheduler`` entries (one dict or a list; none when unset)."""
    schedulers = cfg.get('param_scheduler') or []
    return [schedulers] if isinstance(schedulers, dict) else schedulers


def quick_schedule(cfg: Config, iters: int, val_interval: Optional[int] = None,
                   scale: bool = False) -> Config:
    """Make ``cfg`` an ``iters``-iteration run (in place).

    * ``train_cfg``: an ``IterBasedTrainLoop`` of ``iters`` iterations (its other
      fields kept), validating every ``val_interval`` iterations;
    * ``default_hooks.checkpoint.interval`` (when there is a checkpoint hook): ``iters``,
      one checkpoint at the end;
    * the ``param_scheduler`` entries with an ``end``: with ``scale``, their ``begin`` and
      ``end`` are scaled by ``iters / max_iters`` (a warm-up keeps its share of the run);
      else an ``end`` past ``iters`` and PolyLR's ``end`` become ``iters`` and ``begin``
      stays below ``iters`` (a warm-up keeps its length where it fits).

    Args:
        cfg (Config): an iteration-based run config.
        iters (int): training iterations (positive).
        val_interval (int, optional): validation interval; None for ``iters + 1``: no
            validation inside the training loop (the caller validates explicitly).
        scale (bool): scale the schedulers proportionally instead of clipping them.
            Default: False.

    Returns:
        Config: ``cfg``.

    Raises:
        ValueError: ``iters`` is not positive.
    """
    if iters <= 0:
        raise ValueError(f'--iters must be positive, got {iters}')
    original = int(cfg.train_cfg.get('max_iters', iters))
    cfg.train_cfg = dict(cfg.train_cfg, type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=iters + 1 if val_interval is None else val_interval)
    if cfg.get('default_hooks', {}).get('checkpoint') is not None:
        cfg.default_hooks.checkpoint.interval = iters
    factor = iters / max(1, original)
    for sched in _schedulers(cfg):
        if scale:
            if 'end' in sched:  # squeeze the schedule proportionally into the run
                sched['end'] = max(1, round(sched['end'] * factor))
                sched['begin'] = min(round(sched.get('begin', 0) * factor), sched['end'] - 1)
            continue
        if sched.get('end', 0) > iters or sched['type'] == 'PolyLR':
            sched['end'] = iters
        sched['begin'] = min(sched.get('begin', 0), iters - 1)
    return cfg
