"""IFA: implicit feature alignment (Hu et al., "Learning Implicit Feature Alignment
Function for Semantic Segmentation", ECCV 2022)."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from .base import BaseUpsampler, Size, nearest_source_index


@UPSAMPLERS.register_module(name='IFA')
class IFAUpsampler(BaseUpsampler):
    """Implicit feature alignment: an MLP queried at any output coordinate.

    For output point ``P`` with continuous source position ``(y, x)`` (pixel
    units), take the feature of the source cell ``p`` containing it and the
    relative position ``rel = (y, x) - centre(p)`` scaled to ``[-1, 1]`` per cell,
    encoded as ``[rel, sin(2^l pi rel), cos(2^l pi rel)]``, ``l < num_frequencies``;
    ``out[P] = MLP(cat[feat[p], enc(rel)])`` (1x1 convs, ReLU). IFA's
    multi-level variant concatenates several pyramid levels; the single-source
    interface here uses one level (guidance is ignored).

    The first layer is linear in ``feat[p]``, so its feature part is computed
    once per source cell and copied (exactly equal, ``s^2`` times cheaper).

    Args:
        in_channels (int): feature channels ``C`` (kept).
        guidance_channels (int): unused. Default: 3.
        scale_factor (float, optional): ratio when ``output_size`` is not given.
        hidden_channels (Sequence[int]): MLP widths. Default: (256, 256).
        num_frequencies (int): positional-encoding octaves. Default: 6.
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None,
                 hidden_channels: Sequence[int] = (256, 256), num_frequencies: int = 6) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        if not hidden_channels or min(hidden_channels) <= 0:
            raise ValueError(f'hidden_channels must be positive ints, got {hidden_channels!r}')
        self.num_frequencies = int(num_frequencies)
        pos_dim = 2 + 4 * self.num_frequencies
        first = hidden_channels[0]
        self.feature_proj = nn.Conv2d(in_channels, first, 1)
        self.position_proj = nn.Conv2d(pos_dim, first, 1, bias=False)
        layers = []
        for width_in, width_out in zip(hidden_channels[:-1], hidden_channels[1:]):
            layers += [nn.ReLU(inplace=False), nn.Conv2d(width_in, width_out, 1)]
        layers += [nn.ReLU(inplace=False), nn.Conv2d(hidden_channels[-1], in_channels, 1)]
        self.mlp = nn.Sequential(*layers)

    def encode_positions(self, rel: Tensor) -> Tensor:
        """``[2, L] -> [2 + 4F, L]`` positional encoding of relative offsets."""
        feats = [rel]
        for level in range(self.num_frequencies):
            angle = rel * (math.pi * 2 ** level)
            feats += [torch.sin(angle), torch.cos(angle)]
        return torch.cat(feats, dim=0)

    def relative_positions(self, out_len: int, in_len: int, index: Tensor, like: Tensor) -> Tensor:
        """Offset of each output point from its cell centre, in ``[-1, 1]`` cell units."""
        pos = torch.arange(out_len, device=like.device, dtype=like.dtype)
        pos = (pos + 0.5) * (in_len / out_len)
        return 2 * (pos - (index.to(like.dtype) + 0.5))

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
        pos_y = (coords[..., 0].to(source.dtype) + 1) * (height / 2)
        pos_x = (coords[..., 1].to(source.dtype) + 1) * (width / 2)
        row = pos_y.floor().long().clamp(0, height - 1)
        col = pos_x.floor().long().clamp(0, width - 1)
        rel = torch.stack((2 * (pos_y - row - 0.5), 2 * (pos_x - col - 0.5)), dim=1)  # [B, 2, N]
        pos = torch.stack([self.encode_positions(r) for r in rel])  # [B, P, N]
        feats = self.feature_proj(source).flatten(2)  # [B, hidden, h*w]
        index = (row * width + col).unsqueeze(1).expand(-1, feats.shape[1], -1)
        hidden = feats.gather(2, index) + self.position_proj(pos.unsqueeze(-1)).squeeze(-1)
        return self.mlp(hidden.unsqueeze(-1)).squeeze(-1)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        height, width = source.shape[-2:]
        rows = nearest_source_index(size[0], height, source.device)
        cols = nearest_source_index(size[1], width, source.device)
        rel_y = self.relative_positions(size[0], height, rows, source)
        rel_x = self.relative_positions(size[1], width, cols, source)
        rel = torch.stack(torch.meshgrid(rel_y, rel_x, indexing='ij')).view(2, -1)
        pos = self.encode_positions(rel).view(1, -1, *size)
        hidden = self.feature_proj(source).index_select(2, rows).index_select(3, cols)
        hidden = hidden + self.position_proj(pos)
        return self.mlp(hidden)
