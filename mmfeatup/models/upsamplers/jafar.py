"""JAFAR (Couairon et al. 2025, "JAFAR: Jack up Any Feature at Any Resolution").

Attention from high-resolution image queries to low-resolution keys; the values are
the source features, unprojected. Written from the paper and the authors' code
(github.com/PaulCouairon/JAFAR, commit 94d4d5456ff3c719d111b9a26ead3813e089302b,
``src/upsampler/jafar.py``, config ``model/jafar.yaml``):

1. ``e = RoPE(E_img(I))`` at the image's resolution (``E_img``: conv ``3 -> qk_dim``
   (``kernel_size``) + 2 residual blocks; :mod:`mmfeatup.models.layers.image_attention`).
2. queries ``Q = GN(pool_{H x W}(E_q(e)))`` (adaptive average pooling to the output
   size, GroupNorm with 8 groups and no affine);
3. keys ``K = gamma(F) * GN(pool_{h x w}(E_k(e))) + beta(F)`` with
   ``F = E_f(normalize_C(source))`` (SFT modulation by the source's semantics);
4. ``out = A source`` with ``A`` the head-averaged softmax attention of
   ``conv3x3(Q)`` on ``K`` (RMS-normalised, MHA q/k projections), global over the
   ``h x w`` keys (:class:`~mmfeatup.models.layers.image_attention.CrossAttentionBlock`).

Official defaults kept: ``qk_dim=128``, ``num_heads=4``, ``kernel_size=1``, RoPE
``theta=100``, two residual blocks per encoder; ``v_dim`` (their name) is our
``in_channels``. Parameter names are theirs: an official ``JAFAR`` state dict loads
strictly (its ``MultiheadAttention`` value/output projections and ``norm_v`` do not
enter the output there either and are dropped by a load hook). Checked once against that
commit's module with perturbed weights (float64, non-integer ratio): equal to 3e-15.

Trained here by its own objective (:class:`mmfeatup.models.featup.JAFARTrainer`), or by
the FeatUp trainer like any upsampler.
"""
from __future__ import annotations

from typing import Any, Optional

import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.models.layers.image_encoder import make_encoder
from mmfeatup.registry import UPSAMPLERS
from .image_query_attention import ImageQueryAttentionUpsampler


class SFTModulation(nn.Module):
    """``gamma(f) * GN(x) + beta(f)``: 1x1 bias-free convs, GroupNorm(8) without affine."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Conv2d(channels, channels, 1, bias=False)
        self.beta = nn.Conv2d(channels, channels, 1, bias=False)
        self.norm = nn.GroupNorm(8, channels, affine=False)

    def forward(self, image: Tensor, features: Tensor) -> Tensor:
        return self.gamma(features) * self.norm(image) + self.beta(features)


@UPSAMPLERS.register_module(name='JAFAR')
class JAFARUpsampler(ImageQueryAttentionUpsampler):
    """JAFAR: global attention from image queries (output size) to source keys.

    Args:
        in_channels (int): source channels ``C`` (the authors' ``v_dim``).
        guidance_channels (int): image channels. Default: 3.
        scale_factor (float, optional): see :class:`BaseUpsampler`.
        qk_dim (int): query/key channels. Default: 128.
        num_heads (int): attention heads (weights averaged over them). Default: 4.
        kernel_size (int): odd kernel of the image encoder's first conv. Default: 1.
        theta (float): RoPE frequency range. Default: 100.
        guidance_size (str): ``'native'`` (the authors': encode the image as given,
            enlarged only where smaller than the output) or ``'output'`` (resize it to
            the output size first). Default: ``'native'``.
        q_chunk_size (int, optional): queries per attention chunk (memory); None: auto.
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor, window_ratio=0.0,
                         encoder_layout='named', **kwargs)
        self.norm = nn.GroupNorm(8, self.qk_dim, affine=False)
        self.key_features_encoder = make_encoder(self.in_channels, self.qk_dim, 1)
        self.sft_key = SFTModulation(self.qk_dim)

    def queries(self, queries: Tensor) -> Tensor:
        """GroupNorm (8 groups, no affine) of the pooled queries."""
        return self.norm(queries)

    def keys(self, image_keys: Tensor, source: Tensor) -> Tensor:
        """SFT modulation of the image keys by the source's normalised features."""
        return self.sft_key(image_keys, self.key_features_encoder(F.normalize(source, dim=1)))
