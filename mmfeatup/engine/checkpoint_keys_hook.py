"""Refuse a checkpoint that holds none of the model's weights (``load_from``, resume, test)."""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from torch import nn

from mmfeatup.registry import HOOKS
from mmfeatup.utils.checkpoint_keys import check_state_dict_matches


def loaded_module(model: nn.Module) -> nn.Module:
    """The module a checkpoint is loaded into, as mmengine's ``load_state_dict`` unwraps it:
    through model wrappers (DDP) and test-time-augmentation models (``--tta``'s
    ``SegTTAModel``), whose ``module.`` prefix the checkpoint does not carry.

    Args:
        model (nn.Module): the runner's model.

    Returns:
        nn.Module: the innermost wrapped module.
    """
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


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
        model = loaded_module(runner.model)
        source = (getattr(runner, '_load_from', None)
                  or f'the latest checkpoint in {runner.work_dir}')
        check_state_dict_matches(model, checkpoint, source)
