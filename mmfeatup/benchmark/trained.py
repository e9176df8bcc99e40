"""The upsamplers a benchmark run trained (``--out``/upsamplers/NAME_seedS.pth): which ones
another measure can reuse, and loading one back, checked against its config and budget."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from torch import nn

from .specs import spec_of, upsampler_cfg


def reusable_checkpoints(recon: Dict[str, Any], variants: Optional[Dict[str, Dict[str, Any]]],
                         stride: int, crop: int, size: int) -> Dict[Tuple[str, int], str]:
    """The upsamplers ``recon`` trained that a measure at another image side can use as they
    are: those whose config is the same at both sides (the same scale factor).

    Args:
        recon (dict): :func:`~mmfeatup.benchmark.quality_recon.run_recon`'s results (with
            ``checkpoint`` lists).
        variants (dict, optional): the ``--variant`` configs by label.
        stride (int): the featurizer's stride.
        crop (int): recon's image side.
        size (int): the other measure's image side.

    Returns:
        dict: ``(name, seed) -> path``.
    """
    found = {}
    for name, entry in recon.items():
        try:
            same = (upsampler_cfg(spec_of(name, variants), (crop // stride, ) * 2, (crop, ) * 2)
                    == upsampler_cfg(spec_of(name, variants), (size // stride, ) * 2,
                                     (size, ) * 2))
        except ValueError:
            continue
        for seed, path in zip(entry.get('seeds', []), entry.get('checkpoint') or []):
            if same and path:
                found[name, seed] = path
    return found


def frozen_upsampler(cfg: Dict[str, Any], frozen: nn.Module, checkpoint: str,
                     expect: Optional[Dict[str, Any]] = None) -> nn.Module:
    """The upsampler ``cfg`` with the weights a benchmark run saved (``recon``'s
    ``NAME_seedS.pth``), in eval mode.

    Args:
        cfg (dict): the upsampler config the file must have been saved for.
        frozen (nn.Module): the featurizer (its ``channels``).
        checkpoint (str): the file.
        expect (dict, optional): more ``meta`` entries the file must hold (``seed``,
            ``iters``, ``lr``, ``batch_size``: the training budget).

    Returns:
        nn.Module: the upsampler, eval mode.

    Raises:
        ValueError: the file was saved for another config, seed or budget.
    """
    from mmfeatup.engine import plain
    from mmfeatup.registry import build_upsampler
    from mmfeatup.utils.checkpoint_keys import module_state_dict
    from mmfeatup.utils.featup_checkpoint import read_checkpoint
    saved = read_checkpoint(checkpoint)
    meta = saved.get('meta', {})
    if meta.get('upsampler') != plain(cfg):
        raise ValueError(f'probe: {checkpoint} holds an upsampler {meta.get("upsampler")}, '
                         f'not {cfg}')
    wrong = {k: (meta.get(k), v) for k, v in (expect or {}).items() if meta.get(k) != v}
    if wrong:
        raise ValueError(f'probe: {checkpoint} was trained otherwise: '
                         + ', '.join(f'{k} {got} (expected {want})'
                                     for k, (got, want) in wrong.items()))
    model = build_upsampler(cfg, in_channels=int(frozen.channels), guidance_channels=3)
    model.load_state_dict(module_state_dict(saved, model), strict=True)
    return model.eval()
