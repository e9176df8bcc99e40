"""Device set-up for mmengine's Runner: CPU (gloo) or GPU (NCCL), single or distributed.

On GPUs the stock path is kept: mmengine initialises NCCL, wraps the model in
``MMDistributedDataParallel(device_ids=[local_rank])`` and SyncBN works.
On CPUs three stock defaults break and are fixed here, so users do not have to:

* mmengine's ``init_dist`` calls ``torch.cuda.set_device``: the gloo process
  group is initialised here from torchrun's environment before the Runner is
  built (the Runner then skips its own initialisation);
* DDP on CPU modules needs ``device_ids=None``;
* SyncBN needs GPUs: every ``SyncBN`` in the model config becomes ``BN``, and
  DDP broadcasts rank 0's buffers at every forward (``broadcast_buffers=True``),
  so all ranks hold the same BN statistics, as SyncBN would keep them, and
  the statistics a checkpoint saves (rank 0's) are every rank's: a resumed run
  continues exactly on every rank.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from mmengine.config import Config


def on_gpu() -> bool:
    """Whether the run uses CUDA devices."""
    return torch.cuda.is_available()


def replace_sync_bn(node: Any, norm_type: str = 'BN') -> int:
    """Replace ``type='SyncBN'`` by ``norm_type`` everywhere in a config tree, in place.

    Args:
        node: a config dict / list (e.g. ``cfg.model``).
        norm_type (str): the replacement. Default: ``'BN'``.

    Returns:
        int: how many entries were replaced.
    """
    count = 0
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = norm_type
            count += 1
        for value in node.values():
            count += replace_sync_bn(value, norm_type)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += replace_sync_bn(value, norm_type)
    return count


def init_cpu_distributed(timeout_s: int = 1800) -> None:
    """Initialise a gloo process group from torchrun's ``RANK``/``WORLD_SIZE`` env vars.

    Args:
        timeout_s (int): collective timeout in seconds.
    """
    if dist.is_available() and dist.is_initialized():
        return
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs torchrun (tools/dist_train.sh); '
                           f'missing environment variables: {missing}')
    dist.init_process_group(backend='gloo', timeout=timedelta(seconds=timeout_s))


def close_distributed() -> None:
    """Destroy the process group, if any, before the process exits.

    Leaving it to interpreter shutdown races gloo's threads: a finished run can abort with
    "terminate called without an active exception" (SIGABRT) after its last iteration.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def configure_device(cfg: Config, launcher: str = 'none') -> Config:
    """Adapt a config to the devices at hand (in place), see the module docstring.

    Args:
        cfg (Config): the run config.
        launcher (str): ``'none'`` or ``'pytorch'`` (torchrun) / ``'slurm'`` / ``'mpi'``.

    Returns:
        Config: ``cfg``.
    """
    cfg.launcher = launcher
    if on_gpu():
        return cfg
    replace_sync_bn(cfg.get('model'))
    if launcher != 'none':
        if launcher != 'pytorch':
            raise RuntimeError(f'CPU distributed runs support --launcher pytorch (torchrun), '
                               f'got {launcher!r}')
        init_cpu_distributed()
        env_cfg = cfg.get('env_cfg') or {}
        env_cfg['dist_cfg'] = dict(backend='gloo')
        cfg.env_cfg = env_cfg
        wrapper = dict(cfg.get('model_wrapper_cfg') or {})
        kind = wrapper.get('type', 'MMDistributedDataParallel')
        if kind != 'MMDistributedDataParallel':
            raise RuntimeError(f'model_wrapper_cfg type {kind!r} does not run on CPUs: only '
                               'MMDistributedDataParallel (gloo) does (FSDP needs GPUs)')
        wrapper.update(type=kind, device_ids=None, broadcast_buffers=True)
        wrapper.setdefault('find_unused_parameters',
                           bool(cfg.get('find_unused_parameters', False)))
        cfg.model_wrapper_cfg = wrapper
    return cfg


def apply_amp(cfg: Config) -> Config:
    """Switch ``cfg.optim_wrapper`` to dynamic-loss-scale AMP (GPU only).

    Raises:
        RuntimeError: on a machine without CUDA (mmengine's AMP wrapper is GPU-only).
    """
    if not on_gpu():
        raise RuntimeError('--amp needs a CUDA GPU (mmengine AmpOptimWrapper); none is '
                           'available here: drop --amp to train in fp32 on the CPU')
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper == 'AmpOptimWrapper':
        return cfg
    if wrapper != 'OptimWrapper':
        raise RuntimeError(f'--amp works with optim_wrapper type OptimWrapper, got {wrapper}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'
    return cfg
