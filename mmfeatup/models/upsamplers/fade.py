"""FADE: Fusing the Assets of Decoder and Encoder for task-agnostic upsampling.

Lu et al., ECCV 2022.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from .base import BaseUpsampler, Size, nearest_source_index, reassemble, resize_guidance


def nearest_to(low: Tensor, size: Size) -> Tensor:
    """Copy each source cell to the output pixels it contains (any ratio)."""
    rows = nearest_source_index(size[0], low.shape[-2], low.device)
    cols = nearest_source_index(size[1], low.shape[-1], low.device)
    return low.index_select(2, rows).index_select(3, cols)


@UPSAMPLERS.register_module(name='FADE')
class FADEUpsampler(BaseUpsampler):
    """FADE: semi-shift kernel generation + CARAFE reassembly + decoder-driven gate.

    * Kernel logits (semi-shift convolution): both maps are compressed by 1x1
      convs to ``embedding_dim``, then ONE shared ``3x3`` conv (weights + bias) is
      applied to the encoder map at the output resolution and to the decoder map
      at its own resolution; the latter is copied to every output point of its cell
      and the two are added. (The paper's semi-shift window over the interleaved
      encoder/decoder points is exactly this sum.) Softmax over ``k_up^2`` taps.
    * Reassembly of the decoder (source) map, :func:`reassemble`.
    * Gate ``g = sigmoid(Conv1x1(C -> 1)(source))`` copied to the output grid;
      ``out = g * guidance + (1 - g) * reassembled``. The gate needs guidance with
      the source's channels: it is on when ``guidance_channels == in_channels``
      (``gate='auto'``) and off otherwise (e.g. image guidance, FeatUp's setting:
      an RGB image can't be blended into features, so FADE runs as kernel-only,
      close to the paper's FADE-lite).

    Guidance: a finer feature map (the encoder feature) or the image
    (``guidance_channels=3``); it is area-resized to the output size; any output
    size works.

    Args:
        in_channels (int): source (decoder) channels ``C`` (kept).
        guidance_channels (int): guidance (encoder) channels. Default: 3.
        scale_factor (float, optional): ratio when ``output_size`` is not given.
        up_kernel (int): reassembly window ``k_up``. Default: 5.
        embedding_dim (int): compressed channels. Default: 64.
        gate (bool | str): ``'auto'``, True or False. Default: ``'auto'``.
    """

    guidance_type = 'feature'
    requires_guidance = True

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, up_kernel: int = 5,
                 embedding_dim: int = 64, gate='auto') -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        if up_kernel < 1 or up_kernel % 2 != 1:
            raise ValueError(f'up_kernel must be a positive odd int, got {up_kernel}')
        if gate == 'auto':
            gate = guidance_channels == in_channels
        elif gate not in (True, False):
            raise ValueError(f"gate must be 'auto', True or False, got {gate!r}")
        if gate and guidance_channels != in_channels:
            raise ValueError(f'gate=True needs guidance_channels == in_channels, got '
                             f'{guidance_channels} and {in_channels}')
        self.up_kernel = up_kernel
        self.compress_guidance = nn.Conv2d(guidance_channels, embedding_dim, 1)
        self.compress_source = nn.Conv2d(in_channels, embedding_dim, 1, bias=False)
        self.kernel_weight = nn.Parameter(torch.empty(up_kernel * up_kernel, embedding_dim, 3, 3))
        self.kernel_bias = nn.Parameter(torch.zeros(up_kernel * up_kernel))
        nn.init.xavier_normal_(self.kernel_weight)
        self.gate = nn.Conv2d(in_channels, 1, 1) if gate else None
        if self.gate is not None:
            nn.init.xavier_uniform_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        guidance = resize_guidance(guidance, size, mode='area')
        fine = F.conv2d(self.compress_guidance(guidance), self.kernel_weight, self.kernel_bias,
                        padding=1)
        coarse = F.conv2d(self.compress_source(source), self.kernel_weight, self.kernel_bias,
                          padding=1)
        kernels = (fine + nearest_to(coarse, size)).softmax(dim=1)
        out = reassemble(source, kernels, self.up_kernel)
        if self.gate is None:
            return out
        gate = torch.sigmoid(nearest_to(self.gate(source), size))
        return gate * guidance + (1 - gate) * out
