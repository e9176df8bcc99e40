"""The one interface every feature upsampler implements, and its shared plumbing.

``upsampler(source, guidance=None, output_size=None) -> Tensor``

* ``source``: low-resolution features ``[B, C, h, w]``.
* ``guidance``: what guides the upsampling, or None: the image ``[B, 3, H, W]``
  (FeatUp JBU, ``guidance_type='image'``) or a finer feature map
  ``[B, Cg, H', W']`` (FADE/SAPA style, ``guidance_type='feature'``). Any size:
  each upsampler resizes it where it needs (:func:`resize_guidance`).
* ``output_size``: ``(H_out, W_out)``; when None, ``scale_factor`` (if set) or
  else the guidance's size decides (:meth:`BaseUpsampler.resolve_output_size`).

Subclasses implement :meth:`BaseUpsampler.upsample` and never re-check inputs.
"""
from __future__ import annotations

import math
from typing import ClassVar, Dict, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Size = Tuple[int, int]


def to_size(size: Union[int, Sequence[int]], name: str = 'output_size') -> Size:
    """Normalise an int or a pair to a ``(height, width)`` tuple of positive ints."""
    if isinstance(size, int):
        size = (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f'{name} must be a positive int or (height, width), got {size!r}')
    return size  # type: ignore[return-value]


def resize_guidance(guidance: Tensor, size: Size, mode: str = 'area') -> Tensor:
    """Resize guidance to ``size``.

    Args:
        guidance (Tensor): ``[B, Cg, H, W]``.
        size (tuple[int, int]): target ``(height, width)``.
        mode (str): ``'area'`` (adaptive average pooling, what FeatUp does to the
            image; bilinear where it would enlarge), ``'bilinear'`` or ``'nearest'``.

    Returns:
        Tensor: ``[B, Cg, *size]`` (the input itself if already that size).
    """
    if tuple(guidance.shape[-2:]) == tuple(size):
        return guidance
    if mode == 'area':
        if guidance.shape[-2] >= size[0] and guidance.shape[-1] >= size[1]:
            return F.adaptive_avg_pool2d(guidance, size)
        mode = 'bilinear'
    if mode == 'bilinear':
        return F.interpolate(guidance, size=size, mode='bilinear', align_corners=False)
    return F.interpolate(guidance, size=size, mode=mode)


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
    """Output rows per band tile: the divisor of ``rows`` nearest 32 in [4, 64], else all
    (measured on CPU: fewer, taller tiles read fewer duplicated input rows)."""
    divisors = [d for d in range(4, min(rows, 64) + 1) if rows % d == 0]
    return min(divisors, key=lambda d: abs(d - 32)) if divisors else rows


class _Band(NamedTuple):
    """A banded 1-D resize: output tile ``t`` (``tile`` rows) reads ``span``
    consecutive input rows from ``index[t * span]`` with weights ``weight[t]``."""
    index: Optional[Tensor]  # [tiles * span] input rows, None: all rows in order
    weight: Tensor  # [tiles, tile, span]


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
        return _Band(None, matrix[None])  # one dense tile
    starts = [min(s, in_size - span) for s in starts]
    weight = torch.stack([
        matrix[t * tile:(t + 1) * tile, s:s + span] for t, s in enumerate(starts)])
    index = torch.tensor([s + k for s in starts for k in range(span)], device=device)
    return _Band(index, weight)


def _apply_band(x: Tensor, band: _Band) -> Tensor:
    """Resize dim 1 of ``x`` ``[N, L, M]`` with ``band``: ``[N, rows, M]``."""
    tiles, tile, span = band.weight.shape
    if band.index is None:
        return torch.matmul(band.weight[0], x)
    gathered = x.index_select(1, band.index).view(x.shape[0], tiles, span, x.shape[2])
    return torch.matmul(band.weight, gathered).view(x.shape[0], tiles * tile, x.shape[2])


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


def bicubic_resize(x: Tensor, size: Size, pad: int = 0) -> Tensor:
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


def integer_ratio(source_size: Sequence[int], output_size: Size, name: str) -> int:
    """The integer upsampling ratio shared by both axes, or a clear ValueError."""
    ratios = {output_size[i] / source_size[i] for i in range(2)}
    ratio = ratios.pop()
    if ratios or ratio != int(ratio) or ratio < 1:
        raise ValueError(
            f'{name} supports only one integer ratio on both axes; got '
            f'{tuple(source_size)} -> {tuple(output_size)}')
    return int(ratio)


class BaseUpsampler(nn.Module):
    """Base class of all feature upsamplers.

    Args:
        in_channels (int): channels ``C`` of the source features.
        guidance_channels (int): channels of the guidance (3 for an image).
            Default: 3.
        scale_factor (float, optional): ratio used when ``output_size`` is not
            given. Default: None (then the guidance's size is used).

    Class attributes:
        guidance_type: ``None`` (ignores guidance), ``'image'`` or ``'feature'``.
        requires_guidance: whether ``guidance`` must be given.
        integer_ratio_only: whether only integer ratios equal on both axes work.
    """

    guidance_type: ClassVar[Optional[str]] = None
    requires_guidance: ClassVar[bool] = False
    integer_ratio_only: ClassVar[bool] = False

    def __init__(self,
                 in_channels: int,
                 guidance_channels: int = 3,
                 scale_factor: Optional[float] = None) -> None:
        super().__init__()
        if int(in_channels) <= 0:
            raise ValueError(f'in_channels must be positive, got {in_channels}')
        self.in_channels = int(in_channels)
        self.guidance_channels = int(guidance_channels)
        self.scale_factor = scale_factor

    @property
    def out_channels(self) -> int:
        """Channels of the output (the source's, unless a subclass changes it)."""
        return self.in_channels

    def resolve_output_size(self, source: Tensor, guidance: Optional[Tensor],
                            output_size: Optional[Union[int, Sequence[int]]]) -> Size:
        """``output_size`` if given, else ``scale_factor`` x source, else guidance size."""
        if output_size is not None:
            return to_size(output_size)
        if self.scale_factor is not None:
            return (int(math.floor(source.shape[-2] * self.scale_factor + 0.5)),
                    int(math.floor(source.shape[-1] * self.scale_factor + 0.5)))
        if guidance is not None:
            return (int(guidance.shape[-2]), int(guidance.shape[-1]))
        raise ValueError(f'{type(self).__name__}: give output_size (or set scale_factor, '
                         'or pass guidance)')

    def check_inputs(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> None:
        """Validate ranks, channels, batch and ratio; raise ValueError naming the argument."""
        name = type(self).__name__
        if source.dim() != 4:
            raise ValueError(f'{name}: source must be [B, C, h, w], got shape {tuple(source.shape)}')
        if source.shape[1] != self.in_channels:
            raise ValueError(f'{name}: source has {source.shape[1]} channels, '
                             f'in_channels={self.in_channels}')
        if source.numel() == 0:
            raise ValueError(f'{name}: source is empty, shape {tuple(source.shape)}')
        if guidance is None:
            if self.requires_guidance:
                raise ValueError(f'{name}: guidance is required ({self.guidance_type})')
        elif self.guidance_type is not None:
            if guidance.dim() != 4:
                raise ValueError(f'{name}: guidance must be [B, Cg, H, W], '
                                 f'got shape {tuple(guidance.shape)}')
            if guidance.shape[0] != source.shape[0]:
                raise ValueError(f'{name}: guidance batch {guidance.shape[0]} != '
                                 f'source batch {source.shape[0]}')
            if guidance.shape[1] != self.guidance_channels:
                raise ValueError(f'{name}: guidance has {guidance.shape[1]} channels, '
                                 f'guidance_channels={self.guidance_channels}')
        if self.integer_ratio_only:
            integer_ratio(source.shape[-2:], size, name)

    def forward(self, source: Tensor, guidance: Optional[Tensor] = None,
                output_size: Optional[Union[int, Sequence[int]]] = None) -> Tensor:
        """Upsample ``source`` to ``output_size``, guided by ``guidance``.

        Args:
            source (Tensor): ``[B, C, h, w]``.
            guidance (Tensor, optional): ``[B, guidance_channels, H, W]``.
            output_size (int | tuple[int, int], optional): target size.

        Returns:
            Tensor: ``[B, out_channels, *output_size]``.
        """
        size = self.resolve_output_size(source, guidance, output_size)
        self.check_inputs(source, guidance, size)
        return self.upsample(source, guidance if self.guidance_type else None, size)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        """Compute the output; inputs are already validated."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, guidance_type={self.guidance_type}, '
                f'scale_factor={self.scale_factor}')


# ---------------------------------------------------------------------------
# Shared plumbing of the kernel-based upsamplers (CARAFE, SAPA, FADE, IFA,
# DySample). Every output pixel ``(Y, X)`` of an ``H x W`` output is affiliated
# with the source pixel whose cell contains its centre:
# ``y = floor((Y + 0.5) * h / H)`` (for an integer ratio ``s``: ``Y // s``).
# ---------------------------------------------------------------------------

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


def exact_integer_ratio(source_size: Sequence[int], output_size: Sequence[int]) -> Optional[int]:
    """The integer ratio shared by both axes, or None when there is none."""
    ratios = {int(output_size[i]) / int(source_size[i]) for i in range(2)}
    if len(ratios) != 1:
        return None
    ratio = ratios.pop()
    return int(ratio) if ratio >= 1 and ratio == int(ratio) else None


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
