"""A one-line terminal progress bar for iteration-based training (used by the demo)."""
from __future__ import annotations

import sys
import time
from typing import Any, Optional, TextIO

from mmengine.hooks import Hook

from mmfeatup.registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Redraw ``[#####.....] it/max loss eta`` on one line after every training iteration.

    Args:
        width (int): bar width in characters. Default: 30.
        stream (TextIO, optional): where to draw. Default: ``sys.stdout``.
    """

    priority = 'VERY_LOW'

    def __init__(self, width: int = 30, stream: Optional[TextIO] = None) -> None:
        if width <= 0:
            raise ValueError(f'width must be positive, got {width}')
        self.width = width
        self.stream = stream
        self._start = 0.0
        self._start_iter = 0

    def before_train(self, runner: Any) -> None:
        self._start = time.perf_counter()
        self._start_iter = runner.iter

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        if runner.rank != 0:
            return
        done, total = runner.iter + 1, runner.max_iters
        elapsed = time.perf_counter() - self._start
        rate = max(done - self._start_iter, 1) / max(elapsed, 1e-9)
        eta = (total - done) / rate
        filled = int(self.width * done / max(total, 1))
        loss = ''
        if outputs and 'loss' in outputs:
            value = outputs['loss']
            value = value.detach() if hasattr(value, 'detach') else value
            loss = f' loss {float(value):.3f}'
        stream = self.stream or sys.stdout
        stream.write(f'\rtrain [{"#" * filled}{"." * (self.width - filled)}] '
                     f'{done}/{total}{loss}  {elapsed:.0f}s elapsed, eta {eta:.0f}s ')
        if done >= total:
            stream.write('\n')
        stream.flush()
