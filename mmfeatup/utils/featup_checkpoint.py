"""Read the FeatUp authors' JBU checkpoints into mmfeatup's :class:`JBUStack` layout.

The authors released Lightning checkpoints ``{'state_dict': {...}}`` whose JBU
weights sit under ``upsampler.`` next to ``model.*`` (backbone),
``downsampler.*`` and ``scale_net.*``; their hub models hold the same under
``upsampler.``. mmfeatup's ``JBUStack`` uses the authors' key names, so the
conversion only selects the upsampler's entries and strips the prefix.

:func:`load_jbu_weights` puts a trained JBU into a JBUStack of another channel
count (e.g. one trained with FeatUp's loss on a backbone's stride-16 level,
loaded into every level of a segmentation neck).
"""
from __future__ import annotations

import os
import pickle
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

#: Prefixes tried, in order, when ``prefix`` is not given.
DEFAULT_PREFIXES = ('upsampler.', 'module.upsampler.', 'model.upsampler.')
_JBU_KEY = re.compile(r'^(up\d+\.|fixup_proj\.)')


def _state_dict_of(checkpoint: Mapping[str, Any]) -> Mapping[str, Any]:
    for field in ('state_dict', 'model', 'model_state_dict'):
        inner = checkpoint.get(field)
        if isinstance(inner, Mapping) and any(isinstance(v, Tensor) for v in inner.values()):
            return inner
    return checkpoint


def is_jbu_key(key: str) -> bool:
    """Whether ``key`` names a JBUStack parameter (``up<N>.*`` or ``fixup_proj.*``)."""
    return _JBU_KEY.match(key) is not None


def convert_featup_state_dict(checkpoint: Mapping[str, Any],
                              prefix: Optional[str] = None,
                              prefixes: Sequence[str] = DEFAULT_PREFIXES) -> Dict[str, Tensor]:
    """Extract a plain JBUStack state dict from an authors' checkpoint.

    Args:
        checkpoint (Mapping): a whole Lightning checkpoint (``{'state_dict': ...}``),
            a hub model's state dict, or an already plain JBUStack state dict.
        prefix (str, optional): the prefix of the upsampler's keys; when None,
            ``prefixes`` are tried in order, then unprefixed JBU keys.
        prefixes (Sequence[str]): candidates used when ``prefix`` is None.

    Returns:
        dict[str, Tensor]: ``up1.range_temp``, ..., ``fixup_proj.1.bias``.

    Raises:
        ValueError: when no JBUStack weights are found.
    """
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f'checkpoint must be a dict, got {type(checkpoint).__name__}')
    state = _state_dict_of(checkpoint)
    candidates = [prefix] if prefix is not None else [*prefixes, '']
    for candidate in candidates:
        converted = {
            key[len(candidate):]: value
            for key, value in state.items()
            if key.startswith(candidate) and is_jbu_key(key[len(candidate):])
            and isinstance(value, Tensor)
        }
        if converted:
            return converted
    sample = ', '.join(list(state)[:5])
    raise ValueError(f'checkpoint: no JBUStack weights found under prefixes {candidates}; '
                     f'first keys: {sample}')


def infer_jbu_config(state_dict: Mapping[str, Tensor]) -> Dict[str, int]:
    """``feat_dim``, ``num_stages``, ``key_dim`` and ``radius`` of a JBUStack state dict."""
    try:
        feat_dim = int(state_dict['fixup_proj.1.weight'].shape[0])
        key_dim = int(state_dict['up1.range_proj.3.weight'].shape[0])
        taps = int(state_dict['up1.fixup_proj.3.weight'].shape[0]) \
            if 'up1.fixup_proj.3.weight' in state_dict else None
    except KeyError as error:
        raise ValueError(f'state_dict: missing JBUStack key {error}') from None
    stages = {int(m.group(1)) for key in state_dict for m in [re.match(r'^up(\d+)\.', key)] if m}
    config = dict(feat_dim=feat_dim, key_dim=key_dim, num_stages=max(stages))
    if taps is not None:
        config['radius'] = (int(round(taps**0.5)) - 1) // 2
    return config


_TORCH_BOILERPLATE = ('Weights only load failed', 'Please file an issue', 'Check the documentation')


def _unpickler_reason(error: Exception) -> str:
    """What torch's weights-only error says was refused, without its boilerplate."""
    lines = [line.replace('WeightsUnpickler error:', '').strip()
             for line in str(error).splitlines()]
    reasons = [line for line in lines if line and not line.startswith(_TORCH_BOILERPLATE)]
    return ' '.join(reasons) or type(error).__name__


def read_checkpoint(path: str) -> Mapping[str, Any]:
    """``torch.load`` a checkpoint file on CPU, weights-only (``.safetensors``: safetensors).

    Plain state dicts and mmengine checkpoints load (the few non-tensor objects
    of the latter are allow-listed, :func:`mmfeatup.compat.mmengine_checkpoint_globals`);
    a file whose pickle would call anything else is refused.

    Args:
        path (str): the file.

    Returns:
        Mapping: the loaded object.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        RuntimeError: the file pickles objects other than tensors and mmengine's
            checkpoint entries (it could run code when loaded).
    """
    from mmfeatup.compat import mmengine_checkpoint_globals

    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint: no such file: {path}')
    if path.endswith('.safetensors'):  # tensors only by construction: nothing to refuse
        from safetensors.torch import load_file
        return load_file(path, device='cpu')
    # only what is not allowed already: leaving the context removes what it added, and must not
    # remove the process-wide allow-list of mmfeatup.compat.install
    present = set(torch.serialization.get_safe_globals())
    missing = [g for g in mmengine_checkpoint_globals() if g not in present]
    try:
        with torch.serialization.safe_globals(missing):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        raise RuntimeError(
            f'checkpoint: refused {path}: it pickles objects that loading would have to '
            f'construct or call ({_unpickler_reason(error)}). Only tensors, plain containers '
            'and mmengine checkpoints are loaded. If you trust the file, re-save its weights '
            'as a plain state dict in a separate, trusted step.') from None


def load_jbu_weights(stack: nn.Module,
                     checkpoint: Union[str, Mapping[str, Any]],
                     prefix: Optional[str] = None) -> Dict[str, List[str]]:
    """Load a trained JBU into ``stack``, whatever its feature channels.

    A JBU stage's filters depend on the guidance image only (range kernel,
    spatial Gaussian, kernel fixup), never on the features, so the stage
    weights ``up<N>.*`` of a JBU trained on one feature map serve any other
    (another level, another channel count). They are loaded strictly: every
    stage entry of ``stack`` must be in the checkpoint with the same shape.
    The final ``C x C`` residual ``fixup_proj.*`` is tied to the channels: it
    is loaded when the shapes match and otherwise keeps its initialisation.

    Args:
        stack (nn.Module): a ``JBUStack`` (or ``JBUFused``, from weights trained
            without stage fixups; weights with them are refused, see
            ``JBUFused.from_jbu_stack`` for the documented approximate conversion).
        checkpoint (str | Mapping): a file (weights-only ``torch.load``) or a
            loaded checkpoint; anything :func:`convert_featup_state_dict`
            accepts (mmfeatup's ``upsampler.pth``, authors' checkpoints).
        prefix (str, optional): see :func:`convert_featup_state_dict`.

    Returns:
        dict: ``loaded`` (keys copied), ``kept`` (``fixup_proj`` keys of
        another shape, left as initialised) and ``unused`` (checkpoint keys
        not loaded: a ``fixup_proj`` of another shape, stages ``stack`` lacks,
        per-stage kernel fixups for a JBUFused).

    Raises:
        ValueError: a stage entry is missing or has another shape (e.g. another
            ``radius``, ``key_dim`` or guidance channels), or fixup-trained stages
            meet a stack without fixups.
    """
    if isinstance(checkpoint, str):
        checkpoint = read_checkpoint(checkpoint)
    source = convert_featup_state_dict(checkpoint, prefix=prefix)
    target = stack.state_dict()
    stage_fixups = sorted(k for k in source if re.match(r'up\d+\.fixup_proj\.', k))
    if stage_fixups and not any(re.match(r'up\d+\.fixup_proj\.', k) for k in target):
        raise ValueError(
            f'checkpoint: these JBU stages were trained with their kernel fixups '
            f'({stage_fixups[0]}, ...); {type(stack).__name__} has none and would run a '
            'different, untrained-for filter (measured far worse than the trained JBUStack). '
            'Load them into a JBUStack, or convert knowingly with '
            'JBUFused.from_jbu_stack(JBUStack(..., checkpoint=PATH)).')
    selected: Dict[str, Tensor] = {}
    kept: List[str] = []
    for key, value in target.items():
        found = source.get(key)
        if key.startswith('fixup_proj.'):
            if found is not None and found.shape == value.shape:
                selected[key] = found
            else:
                kept.append(key)
            continue
        if found is None:
            raise ValueError(f'checkpoint: no entry for {key!r} of {type(stack).__name__} '
                             f'(checkpoint stages: {sorted({k.split(".")[0] for k in source})})')
        if found.shape != value.shape:
            raise ValueError(f'checkpoint: {key!r} has shape {tuple(found.shape)}, '
                             f'{type(stack).__name__} expects {tuple(value.shape)} (another '
                             'radius, key_dim or guidance_channels?)')
        selected[key] = found
    stack.load_state_dict(selected, strict=False)
    return dict(loaded=sorted(selected), kept=kept,
                unused=sorted(set(source) - set(selected)))
