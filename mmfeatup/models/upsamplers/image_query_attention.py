"""The base of the image-query attention upsamplers (JAFAR, AnyUp).

Both upsample with one cross-attention step (``docs/design.md``; the blocks are in
:mod:`mmfeatup.models.layers.image_encoder` and :mod:`~mmfeatup.models.layers.image_attention`):

1. ``e = RoPE(E_img(I))``, the image encoded at its resolution (or the output size);
2. queries ``pool_{H x W}(E_q(e))`` and image keys ``pool_{h x w}(E_k(e))``;
3. keys: the image keys combined with the source's semantics (each upsampler its own way,
   :meth:`ImageQueryAttentionUpsampler.keys`);
4. ``out = A source``, ``A`` the head-averaged softmax attention (global or windowed).

Subclasses build their key path and implement :meth:`~ImageQueryAttentionUpsampler.keys`
(and :meth:`~ImageQueryAttentionUpsampler.queries` where the queries are normalised).
"""
from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from mmfeatup.models.layers.image_attention import CrossAttentionBlock
from mmfeatup.models.layers.image_encoder import (RoPE2d, check_guidance_size, check_qk_dim,
                                                  make_encoder, prepare_guidance, run_encoder)
from .base import BaseUpsampler, Size, check_odd


class ImageQueryAttentionUpsampler(BaseUpsampler):
    """Image encoder, query/key encoders, RoPE and the attention step of JAFAR and AnyUp.

    Args:
        in_channels (int): source channels ``C``.
        guidance_channels (int): image channels. Default: 3.
        scale_factor (float, optional): see :class:`BaseUpsampler`.
        qk_dim (int): query/key channels. Default: 128.
        num_heads (int): attention heads (weights averaged over them). Default: 4.
        kernel_size (int): odd kernel of the image encoder's first conv. Default: 1.
        window_ratio (float): attention window half-size as a fraction of the image; 0
            for global attention. Default: 0.
        theta (float): RoPE frequency range. Default: 100.
        guidance_size (str): ``'native'`` (the authors': encode the image as given,
            enlarged only where smaller than the output) or ``'output'`` (resize it to the
            output size first). Default: ``'native'``.
        q_chunk_size (int, optional): queries per attention chunk (memory); None: auto.
        encoder_layout (str): residual-block parameter layout, ``'named'`` (JAFAR's keys)
            or ``'sequential'`` (AnyUp's). Default: ``'named'``.
    """

    guidance_type = 'image'
    requires_guidance = True

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, qk_dim: int = 128, num_heads: int = 4,
                 kernel_size: int = 1, window_ratio: float = 0.0, theta: float = 100.0,
                 guidance_size: str = 'native', q_chunk_size: Optional[int] = None,
                 encoder_layout: str = 'named') -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        name = type(self).__name__
        qk_dim, num_heads = check_qk_dim(qk_dim, num_heads, name)
        kernel_size = check_odd('kernel_size', kernel_size)
        self.guidance_size = check_guidance_size(guidance_size, name)
        self.qk_dim = qk_dim
        self.image_encoder = make_encoder(self.guidance_channels, qk_dim, kernel_size,
                                          layout=encoder_layout)
        self.key_encoder = make_encoder(qk_dim, qk_dim, 1, layout=encoder_layout)
        self.query_encoder = make_encoder(qk_dim, qk_dim, 1, layout=encoder_layout)
        self.cross_decode = CrossAttentionBlock(qk_dim, num_heads, window_ratio=window_ratio,
                                                q_chunk_size=q_chunk_size)
        self.rope = RoPE2d(qk_dim, theta)

    def queries(self, queries: Tensor) -> Tensor:
        """The pooled queries as the attention sees them (identity here)."""
        return queries

    def keys(self, image_keys: Tensor, source: Tensor) -> Tensor:
        """The attention keys ``[B, qk_dim, h, w]`` from the pooled image keys and the source."""
        raise NotImplementedError

    def upsample(self, source: Tensor, guidance: Tensor, size: Size) -> Tensor:
        image = prepare_guidance(guidance, size, self.guidance_size).to(source.dtype)
        encoded = self.rope(run_encoder(self.image_encoder, image))
        queries = self.queries(F.adaptive_avg_pool2d(self.query_encoder(encoded), size))
        image_keys = F.adaptive_avg_pool2d(self.key_encoder(encoded), source.shape[-2:])
        return self.cross_decode(queries, self.keys(image_keys, source), source)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, qk_dim={self.qk_dim}, '
                f'guidance_size={self.guidance_size!r}')
