"""Does a checkpoint fit a model at all? One check shared by the runner hook and the tools."""
from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Dict, Mapping, Sequence, Tuple

from torch import nn

#: mmengine's default ``revise_keys`` for ``Runner.load_checkpoint``.
DEFAULT_REVISE_KEYS: Sequence[Tuple[str, str]] = ((r'^module\.', ''),)


def checkpoint_state_dict(checkpoint: Mapping[str, Any]) -> Mapping[str, Any]:
    """The weights of a checkpoint: its ``state_dict`` entry, or the mapping itself."""
    inner = checkpoint.get('state_dict')
    return inner if isinstance(inner, Mapping) else checkpoint


def check_state_dict_matches(model: nn.Module, checkpoint: Mapping[str, Any], source: str,
                             revise_keys: Sequence[Tuple[str, str]] = DEFAULT_REVISE_KEYS
                             ) -> int:
    """Raise unless at least one of the model's state-dict keys is in the checkpoint.

    Args:
        model (nn.Module): the model the checkpoint is loaded into.
        checkpoint (Mapping): the loaded file (``{'state_dict': ...}`` or weights).
        source (str): where it came from, for the message.
        revise_keys (Sequence): ``(pattern, replacement)`` applied to the
            checkpoint's keys first, as mmengine does (``module.`` stripped).

    Returns:
        int: how many of the model's keys the checkpoint holds.

    Raises:
        RuntimeError: none of the model's keys is in the checkpoint; the message
            names the closest checkpoint keys.
    """
    state = checkpoint_state_dict(checkpoint)
    keys = []
    for key in state:
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        keys.append(key)
    own = list(model.state_dict())
    matched = len(set(own) & set(keys))
    if own and matched == 0:
        closest = difflib.get_close_matches(own[0], keys, n=3, cutoff=0.0) if keys else []
        raise RuntimeError(
            f'checkpoint {source}: none of its {len(keys)} weights matches the '
            f'{len(own)} of {type(model).__name__}, so the model would stay randomly '
            f'initialised. Model keys start {own[:3]}; the checkpoint keys closest to '
            f'{own[0]!r} are {closest}. Check that the checkpoint belongs to this config.')
    return matched


def rename_keys(state_dict: Mapping[str, Any], mapping: Mapping[str, str], prefix: str,
                owner: str, optional: Callable[[str], bool] = lambda key: False
                ) -> Dict[str, Any]:
    """Rename an official implementation's keys to ours (the converters' shared step).

    Args:
        state_dict (Mapping): contains the official keys after ``prefix``.
        mapping (Mapping[str, str]): official key -> our key.
        prefix (str): prefix of the module's keys in ``state_dict`` (e.g.
            ``'decode_head.upsamplers.0.'``); keys without it are ignored. With
            ``prefix=''`` every key must be one of ``mapping``'s.
        owner (str): the official module's name, for the messages.
        optional (Callable[[str], bool]): whether an official key may be absent.

    Returns:
        dict: our key -> value, for the official keys present.

    Raises:
        KeyError: a required key is missing, or (without ``prefix``) a key is unknown.
    """
    keys = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not prefix:
        unknown = sorted(set(keys) - set(mapping))
        if unknown:
            raise KeyError(f'not an official {owner} state dict: unknown keys {unknown}')
    out = {}
    for official, ours in mapping.items():
        if official in keys:
            out[ours] = keys[official]
        elif not optional(official):
            raise KeyError(f'official {owner} key {prefix + official!r} is missing')
    return out
