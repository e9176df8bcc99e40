"""SAPA: Similarity-Aware Point Affiliation for feature upsampling (Lu et al., NeurIPS 2022).

SAPA-B, the released base operator: the upsampling kernel of an output point is
the softmax similarity between its (fine) guidance embedding and the embeddings
of the ``k x k`` low-res source points around its source cell.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from ..layers import ChannelNorm
from .base import (BaseUpsampler, Size, reassemble, resize_guidance, window_similarity,
                   window_valid_mask)


@UPSAMPLERS.register_module(name='SAPA')
class SAPAUpsampler(BaseUpsampler):
    """SAPA-B.

    ``q = Linear(LN(guidance))`` at the output resolution, ``k = Linear(LN(source))``
    at the source resolution, kernel ``softmax_t <q[P], k[p + t]>`` over the
    ``k_up x k_up`` window of the source cell ``p`` of ``P`` (taps outside the map
    are excluded), then reassembly of the *un-normalised* source.

    Guidance: a finer feature map (``guidance_channels`` = its channels, the
    paper's encoder feature) or the image (``guidance_channels=3``: the image
    plays the encoder feature; FeatUp's setting). The guidance is area-resized to
    the output size; any output size works (non-integer ratios affiliate each
    output point with the source cell containing it).

    Args:
        in_channels (int): source channels ``C`` (kept).
        guidance_channels (int): guidance channels. Default: 3.
        scale_factor (float, optional): ratio when ``output_size`` is not given.
        up_kernel (int): window size ``k_up``. Default: 5.
        embedding_dim (int): query/key dimension. Default: 64.
        qkv_bias (bool): bias in the query/key projections. Default: True.
    """

    guidance_type = 'feature'
    requires_guidance = True

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, up_kernel: int = 5,
                 embedding_dim: int = 64, qkv_bias: bool = True) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        if up_kernel < 1 or up_kernel % 2 != 1:
            raise ValueError(f'up_kernel must be a positive odd int, got {up_kernel}')
        self.up_kernel = up_kernel
        self.norm_guidance = ChannelNorm(guidance_channels)
        self.norm_source = ChannelNorm(in_channels)
        self.query = nn.Conv2d(guidance_channels, embedding_dim, 1, bias=qkv_bias)
        self.key = nn.Conv2d(in_channels, embedding_dim, 1, bias=qkv_bias)
        for conv in (self.query, self.key):
            nn.init.trunc_normal_(conv.weight, std=0.02)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        guidance = resize_guidance(guidance, size, mode='area')
        query = self.query(self.norm_guidance(guidance))
        keys = self.key(self.norm_source(source))
        logits = window_similarity(query, keys, self.up_kernel)
        valid = window_valid_mask(source.shape[-2:], size, self.up_kernel, source.device)
        kernels = logits.masked_fill(~valid, float('-inf')).softmax(dim=1)
        return reassemble(source, kernels, self.up_kernel)
