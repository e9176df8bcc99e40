"""Refuse a checkpoint that holds none of the model's weights (``load_from``, resume, test)."""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmfeatup.registry import HOOKS
from mmfeatup.utils.checkpoint_keys import check_state_dict_matches


@HOOKS.register_module()
class CheckpointKeysHook(Hook):
    """Raise when a loaded checkpoint matches none of the model's state-dict keys.

    mmengine loads checkpoints into the model non-strictly and only logs the
    missing keys, so a wrong file (another model, a backbone-only file given as
    ``load_from`` for testing) silently leaves a randomly initialised model
    that is then trained on or scored. Add ``dict(type='CheckpointKeysHook')`` to
    ``custom_hooks``; ``tools/train.py`` and ``tools/test.py`` add it themselves.
    A partial match (e.g. a backbone checkpoint) is allowed: mmengine logs what
    is missing.
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        source = getattr(runner, '_load_from', None) or f'the latest checkpoint in {runner.work_dir}'
        check_state_dict_matches(model, checkpoint, source)
