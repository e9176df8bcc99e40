"""AnyUp (Wimmer et al. 2025, "AnyUp: Universal Feature Upsampling").

One upsampler for any encoder: the only layer that sees the source's channels is
feature-agnostic (:class:`~mmfeatup.models.layers.image_attention.LearnedFeatureUnification`),
so the parameters do not depend on ``C`` and one trained model serves every feature
type. Written from the paper and the authors' code (github.com/wimmerth/anyup, commit
351807a9c4287368732cc247f26c7c81c9139af4, ``anyup/model.py``, config ``model/anyup.yaml``):

1. ``e = RoPE(E_img(I))`` at the image's resolution;
2. queries ``Q = pool_{H x W}(E_q(e))``;
3. keys ``K = E_agg([pool_{h x w}(E_k(e)), E_f(normalize_C(source))])`` with
   ``E_f`` = feature unification (``kernel_size_lfu``) + 2 residual blocks and
   ``E_agg`` = 3x3 conv ``2 qk_dim -> qk_dim`` + 2 residual blocks;
4. ``out = A source``, ``A`` the head-averaged softmax attention of ``conv3x3(Q)`` on
   ``K``, each output pixel restricted to the source cells within ``window_ratio`` of
   its position (:func:`~mmfeatup.models.layers.image_attention.window_attention_mask`).

Official defaults kept: ``qk_dim=128``, ``num_heads=4``, ``kernel_size=1``,
``kernel_size_lfu=5``, ``window_ratio=0.1``, ``lfu_dim=qk_dim``, RoPE ``theta=100``.
Not ported: the Gaussian-derivative init of the unification basis (off by default there)
and the NATTEN kernel (a different window). Parameter names are theirs (``block.N``
residual layout): an official state dict (e.g. ``anyup_paper.pth``) loads strictly
(load hook: ``in_proj_weight`` split, unused MHA value/output projections dropped).
The released code's unification layer mixes the channel and filter axes (see
:class:`LearnedFeatureUnification`); ``lfu_layout='official'`` reproduces it for the
released weights, the default ``'paper'`` is the channel-permutation-invariant layer the
paper describes. Checked once against that commit's module with perturbed weights
(float64, ``lfu_layout='official'``): equal to 3e-15.

Trained here by its own objective (:class:`mmfeatup.models.featup.AnyUpTrainer`) or
by the FeatUp trainer.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.models.layers.feature_unification import LearnedFeatureUnification
from mmfeatup.models.layers.image_encoder import ResBlock, make_encoder, run_encoder
from mmfeatup.registry import UPSAMPLERS
from .base import check_odd
from .image_query_attention import ImageQueryAttentionUpsampler


@UPSAMPLERS.register_module(name='AnyUp')
class AnyUpUpsampler(ImageQueryAttentionUpsampler):
    """AnyUp: windowed attention from image queries to feature-agnostic source keys.

    Args:
        in_channels (int): source channels ``C`` (only checked: no parameter depends on it).
        guidance_channels (int): image channels. Default: 3.
        scale_factor (float, optional): see :class:`BaseUpsampler`.
        qk_dim (int): query/key channels. Default: 128.
        num_heads (int): attention heads (weights averaged). Default: 4.
        kernel_size (int): odd kernel of the image encoder's first conv. Default: 1.
        kernel_size_lfu (int): odd kernel of the feature unification. Default: 5.
        window_ratio (float): attention window half-size as a fraction of the image;
            0 for global attention. Default: 0.1.
        lfu_dim (int, optional): unification filters; None = ``qk_dim``.
        lfu_layout (str): ``'paper'`` or ``'official'`` (see module doc). Default: ``'paper'``.
        theta (float): RoPE frequency range. Default: 100.
        guidance_size (str): ``'native'`` or ``'output'`` (as in :class:`JAFARUpsampler`).
            Default: ``'native'``.
        q_chunk_size (int, optional): queries per attention chunk; None: auto.
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, kernel_size_lfu: int = 5,
                 window_ratio: float = 0.1, lfu_dim: Optional[int] = None,
                 lfu_layout: str = 'paper', **kwargs: Any) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor, window_ratio=window_ratio,
                         encoder_layout='sequential', **kwargs)
        kernel_size_lfu = check_odd('kernel_size_lfu', kernel_size_lfu)
        lfu_dim = self.qk_dim if lfu_dim is None else int(lfu_dim)
        if lfu_dim <= 0 or lfu_dim % 8:
            raise ValueError(f'AnyUp: lfu_dim must be a positive multiple of 8 (GroupNorm with '
                             f'8 groups), got {lfu_dim!r}')
        self.lfu_dim = lfu_dim
        self.key_features_encoder = nn.Sequential(
            LearnedFeatureUnification(lfu_dim, kernel_size_lfu, layout=lfu_layout),
            ResBlock(lfu_dim, self.qk_dim, 1, layout='sequential'),
            ResBlock(self.qk_dim, self.qk_dim, 1, layout='sequential'))
        self.aggregation = make_encoder(2 * self.qk_dim, self.qk_dim, 3, layout='sequential')

    def keys(self, image_keys: Tensor, source: Tensor) -> Tensor:
        """``E_agg([image keys, unified source features])``."""
        semantic = self.key_features_encoder(F.normalize(source, dim=1))
        return run_encoder(self.aggregation, torch.cat([image_keys, semantic], dim=1))

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, lfu_dim={self.lfu_dim}'
