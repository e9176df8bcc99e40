"""Write the trained upsampler alone (``upsampler.pth``) when an upsampler training ends."""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, Mapping, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import save_checkpoint
from torch import nn

from mmfeatup.registry import HOOKS


def save_upsampler(upsampler: nn.Module, path: str, meta: Optional[Dict[str, Any]] = None) -> None:
    """Save an upsampler's own weights as an mmengine checkpoint (``meta`` + ``state_dict``).

    The file is what ``mmfeatup/weights/`` ships and what ``JBUStack(checkpoint=...)``,
    ``load_checkpoint`` and the benchmark's ``checkpoint=`` read: plain tensors and
    JSON-like metadata, so it loads with ``torch.load(..., weights_only=True)``.

    Args:
        upsampler (nn.Module): the trained upsampler.
        path (str): the output file.
        meta (dict, optional): provenance (config, steps, seed, time ...).
    """
    state = {key: value.detach().cpu() for key, value in upsampler.state_dict().items()}
    save_checkpoint(dict(meta=plain(meta or {}), state_dict=state), path)


def plain(value: Any) -> Any:
    """``value`` with every ``ConfigDict``/mapping and tuple made a plain dict/list, so that
    ``torch.load(..., weights_only=True)`` reads it back (it refuses mmengine's classes)."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


@HOOKS.register_module()
class SaveUpsamplerHook(Hook):
    """After training, save ``model.upsampler`` to ``<work_dir>/<filename>``.

    The Runner's own ``iter_N.pth`` holds the whole trainer (the frozen featurizer,
    the downsampler, the optimizer state); this file holds the upsampler only, with
    its provenance in ``meta`` (the config file, the iterations, the seed). Only
    rank 0 writes.

    Args:
        filename (str): the file name in the work dir. Default: ``'upsampler.pth'``.
    """

    priority = 'LOW'

    def __init__(self, filename: str = 'upsampler.pth') -> None:
        self.filename = filename

    def after_train(self, runner) -> None:
        from mmengine.dist import is_main_process
        if not is_main_process():
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model_cfg = getattr(runner.cfg, 'model', None) or {}
        upsampler_cfg = model_cfg.get('upsampler', None) or {}
        meta = dict(config=osp.basename(getattr(runner.cfg, 'filename', '') or ''),
                    upsampler=plain(upsampler_cfg), iters=int(runner.iter), seed=runner.seed,
                    experiment=runner.experiment_name)
        save_upsampler(model.upsampler, osp.join(runner.work_dir, self.filename), meta)
        runner.logger.info(f'upsampler weights saved to {osp.join(runner.work_dir, self.filename)}')
