"""Bicubic resizing (optionally followed by reflect padding) as banded matrix products.

The JBU resizes its low-resolution features with PyTorch's bicubic kernel and
reflect-pads them by the filter radius before every stage
(``docs/design.md``, section 1). :func:`bicubic_resize` does both in two
banded matmuls on a channels-last view: no padding pass, no layout copy.
"""
from __future__ import annotations

import math
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def _bicubic_matrix(in_size: int, out_size: int, dtype: torch.dtype,
                    device: torch.device) -> Tensor:
    """``[out_size, in_size]`` weights of PyTorch's 1-D bicubic resize (align_corners=False).

    Obtained by resizing the identity with ``F.interpolate`` itself, so the
    weights (A = -0.75, border clamping) are PyTorch's by construction.
    """
    eye = torch.eye(in_size, dtype=dtype, device=device).view(in_size, 1, in_size, 1)
    columns = F.interpolate(eye, size=(out_size, 1), mode='bicubic', align_corners=False)
    return columns.view(in_size, out_size).t().contiguous()


def _reflect(index: int, size: int) -> int:
    """PyTorch's ``'reflect'`` padding index (edge not repeated)."""
    if size == 1:
        return 0
    index = abs(index) % (2 * size - 2)
    return index if index < size else 2 * size - 2 - index


def _tile_rows(rows: int) -> int:
    """Output rows per band tile: the divisor of ``rows`` nearest 32 in [16, 64]; else 32 (the
    last tile then has zero-weight rows, cut off after the product) when ``rows > 64``; else
    all (measured on CPU: fewer, taller tiles read fewer duplicated input rows; a dense
    product for 454 = 2 x 227 rows, the x2 stage to 448 px, cost 10x the banded one, and a
    4-row tile for 268 = 4 x 67 rows reads its input 3.6 times)."""
    divisors = [d for d in range(16, min(rows, 64) + 1) if rows % d == 0]
    if divisors:
        return min(divisors, key=lambda d: abs(d - 32))
    return 32 if rows > 64 else rows


class _Band(NamedTuple):
    """A banded 1-D resize: output tile ``t`` (``tile`` rows) reads ``span``
    consecutive input rows from ``index[t * span]`` with weights ``weight[t]``; the first
    ``rows`` of the ``tiles * tile`` output rows are the result."""
    index: Optional[Tensor]  # [tiles * span] input rows, None: all rows in order
    weight: Tensor  # [tiles, tile, span]
    rows: int


def _bicubic_band(in_size: int, out_size: int, pad: int, dtype: torch.dtype,
                  device: torch.device) -> _Band:
    """PyTorch's bicubic resize ``in_size -> out_size`` followed by reflect padding
    ``pad`` on both ends, as a band (only rows with non-zero weights are read).

    The band limits follow from the bicubic footprint (output ``o`` reads input
    ``floor((o + 0.5) * in / out - 0.5) - 1 .. + 2``, clamped), widened by one row
    each side; they depend on the sizes only, so tracing sees no data-dependent
    shapes.
    """
    matrix = _bicubic_matrix(in_size, out_size, dtype, device)
    rows = [_reflect(o, out_size) for o in range(-pad, out_size + pad)]
    if pad:
        matrix = matrix[torch.tensor(rows, device=device)]
    tile = _tile_rows(len(rows))
    scale = in_size / out_size
    starts, ends = [], []
    for first in range(0, len(rows), tile):
        centres = [math.floor((o + 0.5) * scale - 0.5) for o in rows[first:first + tile]]
        starts.append(max(0, min(centres) - 2))
        ends.append(min(in_size, max(centres) + 4))
    span = max(e - s for s, e in zip(starts, ends))
    if span >= in_size or len(starts) == 1:
        return _Band(None, matrix[None], len(rows))  # one dense tile
    starts = [min(s, in_size - span) for s in starts]
    # a ragged last tile gets zero-weight rows up to ``tile``
    matrix = F.pad(matrix, (0, 0, 0, len(starts) * tile - len(rows)))
    weight = torch.stack([
        matrix[t * tile:(t + 1) * tile, s:s + span] for t, s in enumerate(starts)])
    index = torch.tensor([s + k for s in starts for k in range(span)], device=device)
    return _Band(index, weight, len(rows))


def _apply_band(x: Tensor, band: _Band) -> Tensor:
    """Resize dim 1 of ``x`` ``[N, L, M]`` with ``band``: ``[N, rows, M]``."""
    tiles, tile, span = band.weight.shape
    if band.index is None:
        return torch.matmul(band.weight[0], x)
    gathered = x.index_select(1, band.index).view(x.shape[0], tiles, span, x.shape[2])
    out = torch.matmul(band.weight, gathered).view(x.shape[0], tiles * tile, x.shape[2])
    # ragged last tile: drop its zero rows (a copy unless x holds one item)
    return out if tiles * tile == band.rows else out[:, :band.rows].contiguous()


_BAND_CACHE: Dict[Tuple[int, int, int, torch.dtype, str], _Band] = {}


def _cached_band(in_size: int, out_size: int, pad: int, dtype: torch.dtype,
                 device: torch.device) -> _Band:
    key = (in_size, out_size, pad, dtype, str(device))
    band = _BAND_CACHE.get(key)
    if band is None:
        band = _bicubic_band(in_size, out_size, pad, dtype, device)
        if not torch.compiler.is_compiling() and len(_BAND_CACHE) < 256:
            _BAND_CACHE[key] = band
    return band


def bicubic_resize(x: Tensor, size: Sequence[int], pad: int = 0) -> Tensor:
    """``F.interpolate(x, size, mode='bicubic', align_corners=False)``, then
    optionally ``F.pad(..., [pad] * 4, mode='reflect')``, as two banded matmuls.

    Bicubic resizing is separable and linear, and reflect padding only repeats
    rows: ``out = A_h x A_w^T`` with the padding folded into ``A``. Each output
    tile multiplies only the few input rows its bicubic footprint reads
    (:func:`_bicubic_band`), on a channels-last view, so no per-pixel kernel,
    no padding pass and no layout copy is needed. Values equal PyTorch's up to
    float rounding (1e-12 in float64).

    Args:
        x (Tensor): ``[B, C, h, w]``.
        size (tuple[int, int]): ``(H, W)`` before padding.
        pad (int): reflect padding on every side (``< H`` and ``< W``). Default: 0.

    Returns:
        Tensor: ``[B, C, H + 2 pad, W + 2 pad]``, channels-last in memory (the
        input itself when nothing changes).
    """
    batch, channels, height, width = (int(s) for s in x.shape)
    out_h, out_w = int(size[0]), int(size[1])
    pad = int(pad)
    if pad < 0 or (pad and (pad >= out_h or pad >= out_w)):
        raise ValueError(f'bicubic_resize: reflect pad {pad} must be in [0, {min(out_h, out_w)})')
    if (height, width) == (out_h, out_w) and pad == 0:
        return x
    rows = _cached_band(height, out_h, pad, x.dtype, x.device)
    cols = _cached_band(width, out_w, pad, x.dtype, x.device)
    channels_last = x.permute(0, 2, 3, 1).reshape(batch * height, width, channels)
    resized = _apply_band(channels_last, cols)  # [B*h, W', C]
    resized = _apply_band(resized.view(batch, height, -1), rows)  # [B, H', W'*C]
    return resized.view(batch, out_h + 2 * pad, out_w + 2 * pad, channels).permute(0, 3, 1, 2)
