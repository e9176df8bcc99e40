"""Score the model being trained at chosen iterations: a learning curve in one training run."""
from __future__ import annotations

import random
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmfeatup.registry import HOOKS

Scorer = Callable[[nn.Module], Dict[str, float]]


@HOOKS.register_module()
class LearningCurveHook(Hook):
    """Call ``score(module)`` before training (iteration 0) and after each iteration in
    ``points``; keep ``dict(iter=N, **scores)`` in :attr:`curve`.

    :attr:`seconds` is the time spent scoring. The module is put in eval mode for the call
    and back into train mode after it, and the random states (torch, CUDA, numpy, python) are
    restored after it, so scoring leaves the training run unchanged and the curve's last point
    is the trained model's score.

    Args:
        score (Callable[[nn.Module], dict]): returns numbers (e.g. held-out ``rel_mse``).
        points (Sequence[int]): iterations (1-based counts of finished steps) to score after.
        attribute (str, optional): score ``getattr(model, attribute)`` (e.g. ``'upsampler'``)
            instead of the whole model. Default: None.
        at_start (bool): also score before the first step. Default: True.
    """

    priority = 'LOW'

    def __init__(self, score: Scorer, points: Sequence[int], attribute: Optional[str] = None,
                 at_start: bool = True) -> None:
        if any(int(p) < 1 for p in points):
            raise ValueError(f'LearningCurveHook: points must be >= 1, got {list(points)}')
        self.score = score
        self.points = sorted({int(p) for p in points})
        self.attribute = attribute
        self.at_start = at_start
        self.curve: List[Dict[str, Any]] = []
        self.seconds = 0.0  # spent scoring (not training)

    def _record(self, runner: Any, iteration: int) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        target = getattr(model, self.attribute) if self.attribute else model
        was_training = target.training
        target.eval()
        start = time.perf_counter()
        python_state, numpy_state = random.getstate(), np.random.get_state()
        try:  # whatever the scorer draws, the training run's random streams are untouched
            with torch.random.fork_rng(devices=[torch.cuda.current_device()]
                                       if torch.cuda.is_initialized() else []):
                scores = self.score(target)
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
            target.train(was_training)
            self.seconds += time.perf_counter() - start
        self.curve.append(dict(iter=iteration, **{k: float(v) for k, v in scores.items()}))
        runner.logger.info(f'learning curve: iter {iteration}: ' + ', '.join(
            f'{k} {float(v):.4f}' for k, v in scores.items()))

    def before_train(self, runner: Any) -> None:
        """Score the untrained model (not when resuming)."""
        if self.at_start and runner.iter == 0:
            self._record(runner, 0)

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        """Score after the steps in ``points``."""
        if runner.iter + 1 in self.points:
            self._record(runner, runner.iter + 1)
