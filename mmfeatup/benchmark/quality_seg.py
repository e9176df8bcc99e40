"""Quality by end-to-end segmentation on the bundled demo dataset.

A FeatUpNeck config (default: the demo data with the ImageNet EfficientNet-Lite0
backbone) with the neck's upsampler replaced, a short schedule per seed, mIoU and
boundary F-score (:class:`~mmfeatup.evaluation.BoundaryFScore`).
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
from typing import Any, Callable, Dict, Optional, Sequence, Union

from mmfeatup.registry import UPSAMPLERS

from .specs import REPO, for_seed, spec_of
from .timer import Progress, Stopwatch

#: The segmentation part's default: the demo data with the ImageNet EfficientNet-Lite0 backbone
#: (offline weights): a pretrained backbone makes a 30-iteration schedule meaningful.
SEG_CONFIG = osp.join(REPO, 'configs', 'demo', 'effnet-lite0_jbu_ade-demo-128x128.py')


def default_seg_config() -> Optional[str]:
    """:data:`SEG_CONFIG` when it exists (a source checkout), else None."""
    return SEG_CONFIG if osp.isfile(SEG_CONFIG) else None


def _per_level_ratios(neck: Any, kind: str) -> None:
    """Give a fixed-ratio upsampler one ratio per neck level (in place).

    Assumes the usual pyramid (level i has stride ``4 * 2**i``: MiT, ResNet) and the
    level-0 grid as output.
    """
    if neck.get('output_stride') not in (None, 4):
        raise ValueError(f'{kind}: per-level ratios are only derived for output_stride=4')
    neck.scale_factors = [2 ** level for level in neck.get('in_index', [1, 2, 3])]


def seg_config(base: str, name: Union[str, Dict[str, Any]], seed: int, iters: int, work_dir: str,
               data_root: str):
    """The config of one segmentation run.

    Args:
        base (str): a FeatUpNeck config file.
        name (str | dict): the neck's upsampler: a registered name or a config.
        seed (int): the run's seed.
        iters (int): training iterations (the schedulers squeezed into them).
        work_dir (str): the run's work dir.
        data_root (str): the demo dataset.

    Returns:
        Config: no checkpoints, no progress bar, in-process data loading, validation
        (with BoundaryFScore) only when the caller runs it.

    Raises:
        ValueError: not a FeatUpNeck config, or per-level ratios cannot be derived.
    """
    from mmfeatup.engine import load_config
    from mmfeatup.engine.quick_schedule import quick_schedule
    cfg = load_config(base)
    neck = cfg.model.get('neck')
    if neck is None or 'upsampler' not in neck:
        raise ValueError(f'{base}: model.neck.upsampler not found; not a FeatUpNeck config')
    neck.upsampler = dict(type=name) if isinstance(name, str) else dict(name)
    kind = neck.upsampler['type']
    if UPSAMPLERS.get(kind).fixed_ratio or 'scale_factors' in neck:
        _per_level_ratios(neck, kind)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    quick_schedule(cfg, iters, scale=True)
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
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h.get('type') != 'ProgressBarHook']
    imports = cfg.get('custom_imports', dict(imports=[], allow_failed_imports=False))
    if 'mmfeatup.evaluation' not in imports['imports']:
        imports['imports'] = list(imports['imports']) + ['mmfeatup.evaluation']
    cfg.custom_imports = imports
    return cfg


def run_seg(names: Sequence[str], seeds: Sequence[int], iters: int, config: str, out: str,
            data_root: str, progress: Progress,
            results: Optional[Dict[str, Dict[str, Any]]] = None,
            on_update: Callable[[], None] = lambda: None,
            variants: Optional[Dict[str, Dict[str, Any]]] = None) -> Dict[str, Dict[str, Any]]:
    """Train and validate the demo segmentor once per upsampler and seed.

    Args:
        names (Sequence[str]): the rows (registered names or ``--variant`` labels).
        seeds (Sequence[int]): the seeds.
        iters (int): training iterations per run.
        config (str): the FeatUpNeck config (:func:`seg_config`).
        out (str): the benchmark's output folder (runs go to ``out/seg/NAME/seedN``).
        data_root (str): the demo dataset (built when missing).
        progress (Progress): stepped once per run.
        results (dict, optional): filled in place (a fresh dict when None).
        on_update (callable): called after every run (saves partial results).
        variants (dict, optional): the ``--variant`` configs by label.

    Returns:
        dict: per name ``mIoU``, ``bF``, ``bPrecision``, ``bRecall``, ``seconds``, ``seeds``
        (lists, one entry per seed) and, on failure, ``error``.
    """
    from mmengine.logging import MMLogger
    from mmengine.runner import Runner

    import mmfeatup.evaluation  # noqa: F401  (registers BoundaryFScore)
    from mmfeatup.datasets.ade_demo import ensure_ade_demo
    results = {} if results is None else results
    for name in names:
        entry: Dict[str, Any] = dict(mIoU=[], bF=[], bPrecision=[], bRecall=[], seconds=[],
                                     seeds=[])
        results[name] = entry
        for seed in seeds:
            try:
                ensure_ade_demo(data_root)
                cfg = seg_config(config, for_seed(spec_of(name, variants), seed), seed, iters,
                                 osp.join(out, 'seg', name, f'seed{seed}'), data_root)
                with Stopwatch() as watch, open(os.devnull, 'w') as sink, \
                        contextlib.redirect_stdout(sink):
                    runner = Runner.from_cfg(cfg)
                    runner.train()
                    metrics = runner.val_loop.run()
                entry['seconds'].append(watch.seconds)
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
