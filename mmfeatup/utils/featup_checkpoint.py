"""Read the FeatUp authors' JBU checkpoints into mmfeatup's :class:`JBUStack` layout.

The authors released Lightning checkpoints ``{'state_dict': {...}}`` whose JBU
weights sit under ``upsampler.`` next to ``model.*`` (backbone),
``downsampler.*`` and ``scale_net.*``; their hub models hold the same under
``upsampler.``. mmfeatup's ``JBUStack`` uses the authors' key names, so the
conversion only selects the upsampler's entries and strips the prefix.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional, Sequence

from torch import Tensor

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
