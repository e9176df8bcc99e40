"""Window plumbing of the kernel-based upsamplers (CARAFE, SAPA, FADE, IFA).

Every output pixel ``(Y, X)`` of an ``H x W`` output is affiliated with the
source pixel whose cell contains its centre, ``y = floor((Y + 0.5) * h / H)``
(for an integer ratio ``s``: ``Y // s``); its ``k x k`` window is the source
neighbourhood of that cell, zero-padded (``docs/design.md``, section 4).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

Size = Tuple[int, int]


def exact_integer_ratio(source_size: Sequence[int], output_size: Sequence[int]) -> Optional[int]:
    """The integer ratio shared by both axes, or None when there is none.

    Args:
        source_size (Sequence[int]): ``(h, w)``.
        output_size (Sequence[int]): ``(H, W)``.

    Returns:
        int | None: ``s`` when ``H = s h`` and ``W = s w`` with an integer ``s >= 1``.
    """
    ratios = {int(output_size[i]) / int(source_size[i]) for i in range(2)}
    if len(ratios) != 1:
        return None
    ratio = ratios.pop()
    return int(ratio) if ratio >= 1 and ratio == int(ratio) else None


def nearest_source_index(out_len: int, in_len: int, device=None) -> Tensor:
    """Index of the source cell containing each output pixel's centre.

    Args:
        out_len (int): output length ``H``.
        in_len (int): source length ``h``.
        device: device of the returned tensor.

    Returns:
        Tensor: int64 ``[out_len]`` with values in ``[0, in_len)``.
    """
    pos = (torch.arange(out_len, device=device, dtype=torch.float64) + 0.5) * (in_len / out_len)
    return pos.floor().long().clamp_(0, in_len - 1)


def gather_windows(low: Tensor, size: Size, kernel_size: int) -> Tensor:
    """Per output pixel, the ``k x k`` low-res neighbourhood of its source cell.

    Zero padding outside the source. Memory ``O(B * C * k^2 * H * W)``: use it
    for small ``C`` (keys, kernel logits), not for wide features.

    Args:
        low (Tensor): ``[B, C, h, w]``.
        size (tuple[int, int]): output ``(H, W)``.
        kernel_size (int): odd window size ``k``.

    Returns:
        Tensor: ``[B, C, k*k, H, W]``, taps row-major.
    """
    radius = kernel_size // 2
    height, width = low.shape[-2:]
    padded = F.pad(low, [radius] * 4)
    rows = nearest_source_index(size[0], height, low.device)
    cols = nearest_source_index(size[1], width, low.device)
    taps = []
    for i in range(kernel_size):
        band = padded.index_select(2, rows + i)
        for j in range(kernel_size):
            taps.append(band.index_select(3, cols + j))
    return torch.stack(taps, dim=2)


def window_valid_mask(source_size: Sequence[int], size: Size, kernel_size: int,
                      device=None) -> Tensor:
    """Bool ``[1, k*k, H, W]``: whether each tap of :func:`gather_windows` is inside."""
    ones = torch.ones(1, 1, int(source_size[0]), int(source_size[1]), device=device)
    return gather_windows(ones, size, kernel_size)[:, 0] > 0


def reassemble(source: Tensor, kernels: Tensor, kernel_size: int) -> Tensor:
    """Content-aware reassembly (CARAFE's step 2; shared by CARAFE, SAPA, FADE).

    ``out[b, c, Y, X] = sum_t kernels[b, t, Y, X] * source_pad[b, c, y + i_t, x + j_t]``
    with ``(y, x)`` the source cell of ``(Y, X)`` (:func:`nearest_source_index`)
    and zero padding. For an integer ratio ``s`` on both axes it runs as one
    batched matrix product per source pixel (``[C, k^2] @ [k^2, s^2]``), never
    materialising the ``[B, C*k^2, H, W]`` unfolded tensor; otherwise it loops
    over the ``k^2`` taps.

    Args:
        source (Tensor): ``[B, C, h, w]``.
        kernels (Tensor): ``[B, k*k, H, W]`` (normalised by the caller).
        kernel_size (int): odd ``k``.

    Returns:
        Tensor: ``[B, C, H, W]``.
    """
    batch, channels, height, width = source.shape
    taps, out_h, out_w = kernels.shape[1:]
    if kernel_size % 2 != 1 or taps != kernel_size * kernel_size:
        raise ValueError(f'kernels: expected {kernel_size}^2 taps with an odd kernel_size, '
                         f'got {taps}')
    radius = kernel_size // 2
    ratio = exact_integer_ratio((height, width), (out_h, out_w))
    if ratio is not None:
        windows = F.unfold(source, kernel_size, padding=radius)  # [B, C*T, h*w]
        windows = windows.view(batch, channels, taps, height * width).permute(0, 3, 1, 2)
        windows = windows.contiguous()
        kern = kernels.view(batch, taps, height, ratio, width, ratio)
        kern = kern.permute(0, 2, 4, 1, 3, 5).reshape(batch, height * width, taps, ratio * ratio)
        out = torch.matmul(windows, kern)  # [B, h*w, C, s*s]
        out = out.view(batch, height, width, channels, ratio, ratio)
        return out.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, out_h, out_w)
    padded = F.pad(source, [radius] * 4)
    rows = nearest_source_index(out_h, height, source.device)
    cols = nearest_source_index(out_w, width, source.device)
    out = None
    for i in range(kernel_size):
        band = padded.index_select(2, rows + i)
        for j in range(kernel_size):
            tap = i * kernel_size + j
            term = kernels[:, tap:tap + 1] * band.index_select(3, cols + j)
            out = term if out is None else out + term
    return out


def window_similarity(query: Tensor, keys: Tensor, kernel_size: int) -> Tensor:
    """Dot products of each output query with its source cell's ``k x k`` keys.

    ``sim[b, t, Y, X] = <query[b, :, Y, X], keys_pad[b, :, y + i_t, x + j_t]>``
    (zero padding; mask with :func:`window_valid_mask` where needed).

    Args:
        query (Tensor): ``[B, E, H, W]``.
        keys (Tensor): ``[B, E, h, w]``.
        kernel_size (int): odd ``k``.

    Returns:
        Tensor: ``[B, k*k, H, W]``.
    """
    batch, dim, height, width = keys.shape
    out_h, out_w = query.shape[-2:]
    radius = kernel_size // 2
    taps = kernel_size * kernel_size
    ratio = exact_integer_ratio((height, width), (out_h, out_w))
    if ratio is not None:
        windows = F.unfold(keys, kernel_size, padding=radius)
        windows = windows.view(batch, dim, taps, height * width).permute(0, 3, 2, 1)  # [B,hw,T,E]
        q = query.view(batch, dim, height, ratio, width, ratio)
        q = q.permute(0, 2, 4, 1, 3, 5).reshape(batch, height * width, dim, ratio * ratio)
        sim = torch.matmul(windows, q)  # [B, hw, T, s*s]
        sim = sim.view(batch, height, width, taps, ratio, ratio)
        return sim.permute(0, 3, 1, 4, 2, 5).reshape(batch, taps, out_h, out_w)
    return (gather_windows(keys, (out_h, out_w), kernel_size) * query.unsqueeze(2)).sum(1)
