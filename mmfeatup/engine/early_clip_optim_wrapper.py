"""The FeatUp recipe's optimiser wrapper: gradient-norm clipping for the first steps only."""
from __future__ import annotations

from typing import Any

from mmengine.optim import OptimWrapper
from torch.nn.utils import clip_grad_norm_

from mmfeatup.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class EarlyClipOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that clips the gradient norm to ``max_norm`` during the first
    ``clip_steps`` optimiser steps, as the authors' FeatUp JBU training does (Lightning's
    ``clip_gradients(..., 1e-4, 'norm')`` while ``global_step < 10``).

    With Adam-type optimisers this mostly damps the first moment estimates; the step
    count is mmengine's own (``_inner_count``, restored on resume), so a resumed run
    clips exactly the steps a straight run does.

    Args:
        *args: ``OptimWrapper`` arguments.
        clip_steps (int): how many of the first steps are clipped. Default: 10.
        max_norm (float): the total gradient norm they are clipped to. Default: 1e-4.
        **kwargs: ``OptimWrapper`` keyword arguments.
    """

    def __init__(self, *args: Any, clip_steps: int = 10, max_norm: float = 1e-4,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if clip_steps < 0 or max_norm <= 0:
            raise ValueError(f'need clip_steps >= 0 and max_norm > 0, got {clip_steps}, '
                             f'{max_norm}')
        self.clip_steps = int(clip_steps)
        self.max_norm = float(max_norm)

    def step(self, **kwargs: Any) -> None:
        """Clip (during the first ``clip_steps`` steps), then step."""
        if self._inner_count <= self.clip_steps * self._accumulative_counts:
            params = [p for group in self.optimizer.param_groups for p in group['params']
                      if p.grad is not None]
            if params:
                clip_grad_norm_(params, self.max_norm)
        super().step(**kwargs)
