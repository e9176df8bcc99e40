"""Test-only helper of ``test_dist_multinode.py`` (not a test module).

The training subprocesses (with this folder on ``PYTHONPATH``) build
:class:`DistParamDigestHook` from ``type='dist_param_digest_hook.DistParamDigestHook'``
(mmengine's ``Registry.get`` imports a dotted import path; no registration needed): every
rank writes a digest of its model parameters, so that the test can check that all ranks
ended with the same weights.
"""
import hashlib
import json
import os.path as osp
from typing import Dict, Iterable, Tuple

import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


def param_digest(named_tensors: Iterable[Tuple[str, torch.Tensor]]) -> str:
    """SHA-256 over ``(name, dtype, shape, bytes)`` of the tensors, in name order."""
    h = hashlib.sha256()
    for name, tensor in sorted(named_tensors, key=lambda item: item[0]):
        tensor = tensor.detach().cpu().contiguous()
        h.update(f'{name}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        h.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class DistParamDigestHook(Hook):
    """After training, each rank writes ``param_digest_rank{RANK}.json`` to the work dir:
    its rank, world size, iteration, parameter names and the digests of its parameters
    before and after training.

    Only parameters are digested: with ``broadcast_buffers=False`` the BN running
    statistics legitimately differ between ranks (each sees its own data).
    """

    priority = 'VERY_LOW'

    @staticmethod
    def _params(runner) -> Dict[str, torch.Tensor]:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return dict(model.named_parameters())

    def before_train(self, runner) -> None:
        self.initial_digest = param_digest(self._params(runner).items())

    def after_train(self, runner) -> None:
        params = self._params(runner)
        record = dict(rank=get_rank(), world_size=get_world_size(), iter=runner.iter,
                      names=sorted(params), digest=param_digest(params.items()),
                      initial_digest=self.initial_digest)
        path = osp.join(runner.work_dir, f'param_digest_rank{record["rank"]}.json')
        with open(path, 'w') as f:
            json.dump(record, f)
