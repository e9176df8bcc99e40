"""IFA: implicit feature alignment (Hu et al., "Learning Implicit Feature Alignment
Function for Semantic Segmentation", ECCV 2022).

Parity with the authors' code (https://github.com/hzhupku/IFA, commit
70baac826983f03079d8603cd814ba753f0489e5: ``pyseg/models/ifa.py`` ``ifa_simfpn`` and
``pyseg/models/ifa_utils.py`` ``SpatialEncoding``/``ifa_feat``, configured as in its
released ``experiments/ifa/config.yaml``: ``ultra_pe=True, pos_dim=24, require_grad=True,
num_layer=2``). The paper's arXiv page names this repository; ``hujiecpp/IFA`` does not
exist.

Single-level adaptation (the only structural difference): the official decoder queries
four pyramid levels (each 256 channels, its own encoding ``pos1..pos4``) and feeds the
concatenation ``[pe_1, feat_1, ..., pe_4, feat_4]`` (``4 * (256 + 26)`` channels) to one
MLP that outputs ``num_classes``. Our interface has one source, so the MLP's input is
``[pe, feat]`` (``26 + C`` channels, same order) and its output has ``C`` channels; names,
widths, BatchNorm, activation order and the positional encoding are the official ones.
:func:`convert_ifa_official_state_dict` maps an official single-level ``ifa_simfpn``
state dict (``pos{level}.emb`` + ``imnet.*``) onto ours.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from .base import BaseUpsampler, Size


class IFAPositionalEncoding(nn.Module):
    """The official ``SpatialEncoding(2, pos_dim, sigma, cat_input=True, require_grad)``.

    ``emb`` is a ``[pos_dim / 2, 2]`` matrix: rows ``0..n-1`` are ``(f_k, 0)``, rows
    ``n..2n-1`` are ``(0, f_k)`` with ``f = 2^linspace(0, sigma, n)``, ``n = pos_dim / 4``
    (no factor pi). ``enc(rel) = [rel, sin(rel @ emb^T), cos(rel @ emb^T)]``
    (``2 + pos_dim`` channels). Learnable (all entries, cross terms included) when
    ``learnable``, as in the official config (``require_grad: True``); otherwise a fixed,
    non-persistent buffer (the official ``require_grad=False`` keeps it out of the state
    dict too).
    """

    def __init__(self, pos_dim: int = 24, sigma: float = 6, learnable: bool = True) -> None:
        super().__init__()
        if pos_dim <= 0 or pos_dim % 4:
            raise ValueError(f'pos_dim must be a positive multiple of 4, got {pos_dim}')
        count = pos_dim // 4
        freqs = 2 ** torch.linspace(0, float(sigma), count, dtype=torch.float64)
        emb = torch.zeros(2 * count, 2, dtype=torch.float64)
        emb[:count, 0] = freqs
        emb[count:, 1] = freqs
        emb = emb.float()  # the official FloatTensor
        self.pos_dim = int(pos_dim)
        self.sigma = sigma
        self.learnable = bool(learnable)
        if self.learnable:
            self.emb = nn.Parameter(emb)
        else:
            self.register_buffer('emb', emb, persistent=False)

    @property
    def out_channels(self) -> int:
        return 2 + self.pos_dim

    def forward(self, rel: Tensor) -> Tensor:
        """``[..., 2]`` relative ``(y, x)`` -> ``[..., 2 + pos_dim]``."""
        angles = torch.matmul(rel, self.emb.T)
        return torch.cat([rel, torch.sin(angles), torch.cos(angles)], dim=-1)


def cell_centres(length: int, dtype: torch.dtype, device=None) -> Tensor:
    """Normalised centres of ``length`` cells in ``[-1, 1]``, in the official arithmetic
    (``make_coord``): ``(-1 + r) + 2 r * i`` with ``r = 1 / length``."""
    radius = 1.0 / length
    return (-1 + radius) + (2 * radius) * torch.arange(length, dtype=dtype, device=device)


def nearest_cells(coords: Tensor, length: int) -> Tensor:
    """Index of the cell that ``grid_sample(mode='nearest', align_corners=False)`` picks
    for normalised coordinates ``coords`` (any shape) on an axis of ``length`` cells,
    after the official clamp to ``[-1 + 1e-6, 1 - 1e-6]`` (int64, same shape)."""
    # at least float32, so that the index map holds exact integers (bfloat16 would not)
    dtype = torch.promote_types(coords.dtype, torch.float32)
    flat = coords.to(dtype).reshape(1, 1, -1, 1).clamp(-1 + 1e-6, 1 - 1e-6)
    grid = torch.cat([torch.zeros_like(flat), flat], dim=-1)  # (x, y): sample along y
    index = torch.arange(length, dtype=dtype, device=coords.device).view(1, 1, -1, 1)
    picked = F.grid_sample(index, grid, mode='nearest', align_corners=False)
    return picked.view(coords.shape).round().long()


def relative_coords(coords: Tensor, length: int) -> Tuple[Tensor, Tensor]:
    """Official relative coordinate on one axis: ``(coord - centre(cell)) * length`` (the
    offset from the picked cell's centre, ``[-1, 1]`` per cell), and the cell index."""
    cells = nearest_cells(coords, length)
    return (coords - cell_centres(length, coords.dtype, coords.device)[cells]) * length, cells


def convert_ifa_official_state_dict(state_dict: Dict[str, Tensor],
                                    level: int = 1) -> Dict[str, Tensor]:
    """Official single-level ``ifa_simfpn`` state dict -> :class:`IFAUpsampler`'s.

    Keeps ``imnet.*``, renames ``pos{level}.emb`` to ``pos.emb`` and drops the other
    levels' encodings (never used by a single-level query). A multi-level checkpoint
    (``imnet.0.weight`` with ``4 * (256 + 26)`` inputs) then fails the strict load with a
    size mismatch: its MLP reads four levels at once and cannot be split exactly.
    """
    out = {}
    for key, value in state_dict.items():
        if key.startswith('imnet.'):
            out[key] = value
        elif key == f'pos{level}.emb':
            out['pos.emb'] = value
        elif key.startswith('pos') and key.endswith('.emb') and key[3:-4].isdigit():
            continue
        else:
            raise KeyError(f'unexpected key {key!r} in an official ifa_simfpn state dict')
    return out


@UPSAMPLERS.register_module(name='IFA')
class IFAUpsampler(BaseUpsampler):
    """Implicit feature alignment: an MLP queried at any output coordinate.

    For an output point with normalised coordinate ``(y, x)`` (output cell centres,
    ``align_corners=False`` convention) take the feature ``feat[p]`` of the source cell
    ``p`` that nearest ``grid_sample`` picks (as the official code does: on an exact cell
    border it rounds half to even, unlike the floor rule of
    :func:`~mmfeatup.models.layers.windows.nearest_source_index`; this happens for some non-integer ratios) and the
    relative position
    ``rel = ((y, x) - centre(p)) * (h, w)`` (``[-1, 1]`` per cell);
    ``out = imnet(cat[enc(rel), feat[p]])`` with ``enc`` the official learnable sin/cos
    encoding (:class:`IFAPositionalEncoding`) and ``imnet`` the official MLP: 1x1
    ``Conv1d -> BatchNorm1d -> ReLU`` per hidden width, then a ``Conv1d`` to ``C``. Guidance
    is ignored (single level, see the module docstring).

    The first layer is linear in ``feat[p]``, so its feature part is computed once per
    source cell and copied (equal up to float rounding, ``s^2`` times cheaper).

    Args:
        in_channels (int): feature channels ``C`` (kept).
        guidance_channels (int): unused. Default: 3.
        scale_factor (float, optional): ratio when ``output_size`` is not given.
        hidden_channels (Sequence[int]): MLP widths. Default: (512, 256, 256), the
            official ``num_layer=2`` (``num_layer=1``: (512, 256); ``0``: (128, 128)).
        pos_dim (int): sin/cos channels of the encoding (official config: 24).
        sigma (float): highest octave, frequencies ``2^linspace(0, sigma, pos_dim / 4)``.
            Default: 6.
        learnable_frequencies (bool): official ``require_grad``. Default: True (the
            official config).
        sync_bn (bool): ``SyncBatchNorm`` instead of ``BatchNorm1d`` (official
            ``sync_bn``). Default: False.
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None,
                 hidden_channels: Sequence[int] = (512, 256, 256), pos_dim: int = 24,
                 sigma: float = 6, learnable_frequencies: bool = True,
                 sync_bn: bool = False) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        hidden_channels = tuple(int(c) for c in hidden_channels)
        if not hidden_channels or min(hidden_channels) <= 0:
            raise ValueError(f'hidden_channels must be positive ints, got {hidden_channels!r}')
        self.pos = IFAPositionalEncoding(pos_dim, sigma, learnable_frequencies)
        norm = nn.SyncBatchNorm if sync_bn else nn.BatchNorm1d
        layers = []
        width_in = self.pos.out_channels + self.in_channels
        for width in hidden_channels:
            layers += [nn.Conv1d(width_in, width, 1), norm(width), nn.ReLU()]
            width_in = width
        layers.append(nn.Conv1d(width_in, self.in_channels, 1))
        self.imnet = nn.Sequential(*layers)

    def _run(self, source: Tensor, cell_index: Tensor, rel: Tensor) -> Tensor:
        """``imnet(cat[enc(rel), feat[cell]])`` with the first layer split.

        Args:
            source (Tensor): ``[B, C, h, w]``.
            cell_index (Tensor): int64 ``[B or 1, N]`` flat source cells.
            rel (Tensor): ``[B or 1, N, 2]`` relative ``(y, x)``.

        Returns:
            Tensor: ``[B, C, N]``.
        """
        first = self.imnet[0]
        pos_channels = self.pos.out_channels
        enc = self.pos(rel).transpose(1, 2)  # [B|1, P, N]
        feats = F.conv1d(source.flatten(2), first.weight[:, pos_channels:])  # [B, W, h*w]
        index = cell_index.unsqueeze(1).expand(feats.shape[0], feats.shape[1], -1)
        hidden = feats.gather(2, index)
        hidden = hidden + F.conv1d(enc, first.weight[:, :pos_channels], first.bias)
        return self.imnet[1:](hidden)

    def query(self, source: Tensor, coords: Tensor) -> Tensor:
        """Features at arbitrary continuous points.

        Args:
            source (Tensor): ``[B, C, h, w]``.
            coords (Tensor): ``[B, N, 2]`` points ``(y, x)`` in ``[-1, 1]``
                (``align_corners=False`` convention: -1 and 1 are the outer edges).

        Returns:
            Tensor: ``[B, C, N]``.
        """
        if source.dim() != 4 or source.shape[1] != self.in_channels:
            raise ValueError(f'source must be [B, {self.in_channels}, h, w], '
                             f'got {tuple(source.shape)}')
        if coords.dim() != 3 or coords.shape[-1] != 2 or coords.shape[0] != source.shape[0]:
            raise ValueError(f'coords must be [B, N, 2] with B={source.shape[0]}, '
                             f'got {tuple(coords.shape)}')
        height, width = source.shape[-2:]
        coords = coords.to(source.dtype)
        rel_y, rows = relative_coords(coords[..., 0], height)
        rel_x, cols = relative_coords(coords[..., 1], width)
        return self._run(source, rows * width + cols, torch.stack((rel_y, rel_x), dim=-1))

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        height, width = source.shape[-2:]
        dtype, device = source.dtype, source.device
        axes = []
        for out_len, in_len in ((size[0], height), (size[1], width)):
            coords = cell_centres(out_len, dtype, device)
            coords = (coords + 1) / 2 * 2 - 1  # the official round trip to [0, 1] and back
            axes.append(relative_coords(coords, in_len))
        (rel_y, rows), (rel_x, cols) = axes
        rel = torch.stack(torch.meshgrid(rel_y, rel_x, indexing='ij'), dim=-1)
        cells = rows.view(-1, 1) * width + cols.view(1, -1)
        out = self._run(source, cells.view(1, -1), rel.view(1, -1, 2))
        return out.view(source.shape[0], self.in_channels, *size)
