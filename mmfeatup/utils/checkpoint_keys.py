"""Does a checkpoint fit a model at all? One check shared by the runner hook and the tools."""
from __future__ import annotations

import difflib
import re
from collections import Counter
from typing import Any, Dict, Mapping, Sequence, Tuple

from torch import Tensor, nn

#: mmengine's default ``revise_keys`` for ``Runner.load_checkpoint``.
DEFAULT_REVISE_KEYS: Sequence[Tuple[str, str]] = ((r'^module\.', ''),)


def checkpoint_state_dict(checkpoint: Mapping[str, Any]) -> Mapping[str, Any]:
    """The weights of a checkpoint: its ``state_dict`` entry, or the mapping itself."""
    inner = checkpoint.get('state_dict')
    return inner if isinstance(inner, Mapping) else checkpoint


def module_state_dict(checkpoint: Mapping[str, Any], module: nn.Module) -> Dict[str, Tensor]:
    """The entries of ``checkpoint`` that belong to ``module``, under whatever prefix.

    Finds the prefix ``p`` such that ``p + key`` exists for every key of the module's state
    dict (``''``, ``'upsampler.'``, ``'module.upsampler.'``...): a module's own file and a
    whole model's or trainer's checkpoint (mmengine's ``iter_N.pth``) both work.

    Args:
        checkpoint (Mapping): the loaded file (weights, or under ``state_dict`` / ``model``).
        module (nn.Module): the module the weights are for.

    Returns:
        dict: exactly the module's state-dict keys, ready for a strict ``load_state_dict``.

    Raises:
        ValueError: no prefix gives all of the module's keys.
    """
    state = checkpoint
    for field in ('state_dict', 'model'):
        if isinstance(state.get(field), Mapping):
            state = state[field]
    wanted = list(module.state_dict())
    prefixes: Counter = Counter()
    for key in state:
        for name in wanted:
            if key == name or key.endswith('.' + name):
                prefixes[key[:len(key) - len(name)]] += 1
    for prefix, _ in prefixes.most_common():
        if all(prefix + name in state for name in wanted):
            return {name: state[prefix + name] for name in wanted}
    best = prefixes.most_common(1)
    raise ValueError(f'checkpoint: does not hold all {len(wanted)} weights of the '
                     f'{type(module).__name__} (best prefix match: {best}); first keys: '
                     f'{list(state)[:5]}')


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


def rename_keys(state_dict: Mapping[str, Any], rules: Sequence[Tuple[str, str]], prefix: str,
                owner: str, required: Sequence[str]) -> Dict[str, Any]:
    """Rename an official implementation's keys to ours (the converters' shared step).

    Args:
        state_dict (Mapping): contains the official keys after ``prefix``.
        rules (Sequence[tuple[str, str]]): ``(official, ours)`` key prefixes (a
            module's) or whole keys; the first rule a key starts with renames it.
        prefix (str): prefix of the module's keys in ``state_dict`` (e.g.
            ``'decode_head.upsamplers.0.'``); keys without it are ignored. With
            ``prefix=''`` every key must match a rule.
        owner (str): the official module's name, for the messages.
        required (Sequence[str]): official keys that must be present.

    Returns:
        dict: our key -> value.

    Raises:
        KeyError: a required key is missing, or (without ``prefix``) a key is unknown.
    """
    keys = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    out, unknown = {}, []
    for key, value in keys.items():
        rule = next(((old, new) for old, new in rules if key.startswith(old)), None)
        if rule is None:
            unknown.append(key)
        else:
            out[rule[1] + key[len(rule[0]):]] = value
    if unknown and not prefix:
        raise KeyError(f'not an official {owner} state dict: unknown keys {sorted(unknown)}')
    missing = [key for key in required if key not in keys]
    if missing:
        raise KeyError(f'official {owner} key {prefix + missing[0]!r} is missing')
    return out
