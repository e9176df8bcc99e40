"""CheckpointKeysHook compares a checkpoint with the module mmengine loads it into."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.model import BaseTTAModel
from torch import nn

from mmfeatup.engine.checkpoint_keys_hook import CheckpointKeysHook, loaded_module


class _TTA(BaseTTAModel):
    def merge_preds(self, data_samples_list):
        return data_samples_list


class _Model(nn.Linear):
    def test_step(self, data):
        return data


def _runner(model):
    return SimpleNamespace(model=model, _load_from='ckpt.pth', work_dir='work')


def test_unwraps_test_time_augmentation_like_mmengine_loading():
    inner = _Model(2, 3)
    tta = _TTA(module=inner)
    assert list(tta.state_dict())[0].startswith('module.')
    assert loaded_module(tta) is inner
    assert loaded_module(inner) is inner
    hook = CheckpointKeysHook()
    hook.after_load_checkpoint(_runner(tta), {'state_dict': inner.state_dict()})  # fits: no error
    with pytest.raises(RuntimeError, match='none of its 1 weights matches the 2 of _Model'):
        hook.after_load_checkpoint(_runner(tta), {'state_dict': {'fc.weight': torch.zeros(1)}})
