"""Deterministic, exactly representable weights for the IFA golden test.

The official IFA MLP (512-256-256) has ~2e5 parameters, too many to store in a small
golden file, so its state dict is rebuilt from this recipe instead: integer hashing
(exact on every platform) gives values ``k / 128``, scaled by powers of two, so every
value is exact in float32 and float64. ``make_dysample_ifa_goldens.py`` loaded the
recipe's state dict into the official module strictly and stored its SHA-256; the test
recomputes the recipe and checks that hash before loading it into ours.
"""
import hashlib
import math
from typing import Dict

import torch

_MASK = 2 ** 32


def hashed_units(count: int, seed: int) -> torch.Tensor:
    """``count`` values in ``{-128/128, ..., 128/128}`` (float64), a pure function of
    ``(count, seed)``."""
    k = torch.arange(count, dtype=torch.int64) + seed * 1000003
    h = (k * 2654435761) % _MASK
    h = ((h ^ (h >> 15)) * 1274126177) % _MASK
    h = h ^ (h >> 13)
    return ((h % 257) - 128).to(torch.float64) / 128


def recipe_state_dict(template: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Values for every entry of ``template`` (same keys, shapes; float entries float32)."""
    out = {}
    for seed, (name, ref) in enumerate(template.items()):
        if not ref.is_floating_point():  # num_batches_tracked
            out[name] = torch.full_like(ref, 7)
            continue
        u = hashed_units(ref.numel(), seed).view(ref.shape)
        leaf = name.rsplit('.', 1)[-1]
        if leaf == 'emb':  # official init (rounded to 1/64) plus a learnt-looking change
            value = torch.round(ref.double() * 64) / 64 + u / 16
        elif leaf == 'weight' and ref.dim() == 3:  # Conv1d [out, in, 1]
            fan_in = ref.shape[1] * ref.shape[2]
            value = u * 2.0 ** (1 - round(math.log2(math.sqrt(fan_in))))
        elif leaf == 'weight':  # BatchNorm gamma
            value = 1 + u / 4
        elif leaf == 'bias':
            value = u / 8
        elif leaf == 'running_mean':
            value = u / 4
        elif leaf == 'running_var':
            value = 1 + (u + 1) / 4
        else:
            raise KeyError(f'recipe: no rule for {name!r}')
        out[name] = value.to(torch.float32)
    return out


def state_sha256(state: Dict[str, torch.Tensor]) -> str:
    """SHA-256 of names, dtypes, shapes and float32/int64 bytes, in order."""
    digest = hashlib.sha256()
    for name, value in state.items():
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.to(torch.float32)
        digest.update(f'{name}|{value.dtype}|{tuple(value.shape)}|'.encode())
        digest.update(value.contiguous().numpy().tobytes())
    return digest.hexdigest()
