"""Exact resume: the random-number state that mmengine checkpoints do not hold.

An mmengine checkpoint holds the model, optimizer, schedulers and message hub.
A run resumed from it re-seeds every generator at start-up and then replays
the data loader up to the checkpoint's iteration (``IterBasedTrainLoop``), so
the data order and the workers' augmentations come back exactly (the sampler
and the workers are seeded from the config's seed), but the main process's
Python, NumPy, torch (and CUDA) generators restart from the seed: dropout,
drop-path and, with ``num_workers=0``, the augmentations then differ from the
uninterrupted run from the first resumed iteration on.

:class:`ExactResumeHook` saves those generators, for every rank, in each
checkpoint and puts them back at the point where they were taken, so a resumed
run continues bit-exactly. What it cannot make exact is in ``docs/resume.md``.
"""
from __future__ import annotations

import random
from typing import Any, Dict, Iterator, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from mmfeatup.registry import HOOKS

#: The checkpoint entry written by :class:`ExactResumeHook`.
CHECKPOINT_KEY = 'rng_state'


def capture_rng_state() -> Dict[str, Any]:
    """The state of this process's Python, NumPy, torch and (initialised) CUDA generators."""
    state: Dict[str, Any] = dict(python=random.getstate(), numpy=np.random.get_state(),
                                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, Any]) -> None:
    """Put back a state taken by :func:`capture_rng_state`."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state:
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAtFetch:
    """Wraps the train loop's data iterator: restores a state right before fetch ``skip + 1``.

    ``IterBasedTrainLoop`` replays ``skip`` batches after a resume (that replay
    may itself draw random numbers); the generators must be as saved when the
    first batch that is trained on is fetched.
    """

    def __init__(self, inner: Iterator, skip: int, state: Dict[str, Any]) -> None:
        self.inner, self.skip, self.state = inner, skip, state
        self.done = False

    def __iter__(self) -> '_RestoreAtFetch':
        return self

    def __next__(self) -> Any:
        if self.skip > 0:
            self.skip -= 1
        elif not self.done:
            restore_rng_state(self.state)
            self.done = True
        return next(self.inner)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Save every rank's random generators in checkpoints; restore them on ``--resume``.

    Add it to a config with ``custom_hooks = [dict(type='ExactResumeHook')]``
    (``custom_imports`` must import ``mmfeatup.engine``). It also keeps
    validation from drawing on the training generators (validation runs with a
    copy of the state and the state is put back afterwards), so that where a
    validation falls does not change the training that follows it.

    Exact for ``IterBasedTrainLoop`` at any checkpointed iteration and for
    ``EpochBasedTrainLoop`` with checkpoints at epoch ends, with the same world
    size as the saved run; otherwise it warns and leaves the generators as
    mmengine seeds them.
    """

    # after ParamSchedulerHook (LOW) and before CheckpointHook (VERY_LOW) in after_train_iter
    priority = 'LOW'

    def __init__(self) -> None:
        self._saved: Optional[List[Dict[str, Any]]] = None
        self._pending: Optional[Dict[str, Any]] = None
        self._before_val: Optional[Dict[str, Any]] = None

    # --- saving -----------------------------------------------------------------------------
    def _snapshot(self) -> None:
        state = capture_rng_state()
        self._saved = all_gather_object(state) if get_world_size() > 1 else [state]

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        self._snapshot()

    def after_train_epoch(self, runner) -> None:
        self._snapshot()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = self._saved if self._saved is not None else [capture_rng_state()]
        checkpoint[CHECKPOINT_KEY] = dict(world_size=len(states), states=states)

    # --- validation does not touch the training generators -----------------------------------
    def before_val(self, runner) -> None:
        self._before_val = capture_rng_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            restore_rng_state(self._before_val)
            self._before_val = None

    # --- resuming ---------------------------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from: weights only, training starts afresh
        saved = checkpoint.get(CHECKPOINT_KEY)
        if saved is None:
            print_log('ExactResumeHook: the checkpoint holds no random-generator state (saved '
                      'without this hook); the resumed run will not repeat the original exactly',
                      logger='current', level=30)
            return
        seed = checkpoint.get('meta', {}).get('seed')
        if seed is not None and seed != runner.seed:
            print_log(f'ExactResumeHook: the checkpoint was trained with seed {seed}, this run '
                      f'seeded its data loader with {runner.seed}: the augmentations differ, the '
                      'resumed run is not exact (set randomness.seed in the config)',
                      logger='current', level=30)
        if saved['world_size'] != get_world_size():
            print_log(f'ExactResumeHook: the checkpoint was saved by {saved["world_size"]} '
                      f'processes, this run has {get_world_size()}; the data split and the '
                      'generators differ, the resumed run is not exact', logger='current',
                      level=30)
            return
        self._pending = saved['states'][get_rank()]

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _RestoreAtFetch(loop.dataloader_iterator, loop.iter,
                                                       self._pending)
        else:  # epoch-based: the epoch's data iterator is made after this hook
            restore_rng_state(self._pending)
        self._pending = None

    def before_train_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None:
        loop = runner.train_loop
        wrapper = getattr(loop, 'dataloader_iterator', None)
        if isinstance(wrapper, _RestoreAtFetch) and wrapper.done:
            loop.dataloader_iterator = wrapper.inner
