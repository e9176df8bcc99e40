"""Test helper (not collected): per-iteration fingerprints of a run, and a SIGKILL on demand.

Added to a run with ``--cfg-options default_hooks.probe.type=resume_probe_hook.ResumeProbeHook
default_hooks.probe.out_dir=DIR [default_hooks.probe.kill_at=N]`` and this folder on
``PYTHONPATH``.
"""
import hashlib
import json
import os
import os.path as osp
import signal

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


def _digest(tensors) -> str:
    sha = hashlib.sha256()
    for name, tensor in tensors:
        sha.update(name.encode())
        sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


class ResumeProbeHook(Hook):
    """Appends ``{iter, losses, params, optim}`` per training iteration to ``rank<R>.jsonl``.

    Args:
        out_dir (str): where the records go.
        kill_at (int): SIGKILL this process when iteration ``kill_at`` (0-based) is about to
            start; -1 never.
    """

    priority = 'LOWEST'  # after CheckpointHook: the checkpoint of this iteration is on disk

    def __init__(self, out_dir: str, kill_at: int = -1) -> None:
        self.out_dir, self.kill_at = out_dir, kill_at

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        optimizer = runner.optim_wrapper.optimizer
        state = optimizer.state_dict()
        optim = [(f'{k}.{n}', v if torch.is_tensor(v) else torch.tensor(float(v)))
                 for k in sorted(state['state']) for n, v in sorted(state['state'][k].items())]
        optim += [(f'lr{i}', torch.tensor(group['lr'], dtype=torch.float64))
                  for i, group in enumerate(state['param_groups'])]
        record = dict(iter=batch_idx,
                      losses={k: repr(float(v)) for k, v in (outputs or {}).items()},
                      params=_digest(model.state_dict().items()), optim=_digest(optim))
        os.makedirs(self.out_dir, exist_ok=True)
        with open(osp.join(self.out_dir, f'rank{get_rank()}.jsonl'), 'a') as f:
            f.write(json.dumps(record) + '\n')
