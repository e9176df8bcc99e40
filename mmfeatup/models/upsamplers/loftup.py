"""LoftUp (Huang et al. 2025, "LoftUp: Learning a Coordinate-Based Feature Upsampler for
Vision Foundation Models").

A coordinate-based cross-attention transformer: every output pixel is a query built from
Fourier features of its coordinates and colour; the keys/values are the source features
with a sine positional encoding. Written from the paper and the authors' code
(github.com/andrehuang/loftup, commit 6620d9bcde4c1af5cddedde6b9aaed6d4174a799,
``upsamplers/upsamplers.py`` ``LoftUp`` with
``lr_pe_type='sine'``, ``upsamplers/layers.py``):

1. ``I' = minmax(I)`` (per channel over the batch and the image, to ``[-0.5, 0.5]``);
   ``phi = [sin(w_f p + b_s), cos(w_f p + b_c), I']`` with ``p = (y, x, I')`` (coordinates
   ``linspace(-1, 1)``), ``w_f = exp(linspace(-2, 10, n_freqs))``, learnable phases
   (``5 x 2 x n_freqs + 3`` channels);
2. ``q = ReLU(BN(conv3x3(ReLU(BN(conv3x3(ChannelNorm(phi)))))))`` with
   ``E = C + 20`` channels, at the OUTPUT size (the image is resized to it first);
3. ``kv = [source, sine PE of the source grid (5 frequencies, 20 channels)]``;
4. ``num_layers`` x (``q += MHA(LN(q), LN(kv), LN(kv))``; ``q += FFN(q)``), final LN;
5. ``out = LayerNorm_C(conv1x1(q))``: a per-pixel normalised ``C``-channel map (NOT a
   combination of source vectors: LoftUp predicts features in the channel-normalised
   space of its training targets).

Official defaults kept: ``n_freqs=20``, ``num_heads=4``, ``num_layers=2``, FFN width
``C``, BatchNorm in the query encoder. Parameter names are theirs: an official ``LoftUp``
state dict loads strictly; a hub checkpoint (``UpsamplerwithChannelNorm``: ``upsampler.*``
plus the input ``channelnorm.*``) loads into ``input_norm=True`` after
:func:`convert_loftup_hub_state_dict`. Not ported: ``lr_pe_type='learnable'``. Checked once against that commit's module with perturbed
weights: equal to 3e-6 in float32 (theirs builds the Fourier grid in float32 whatever the
input's dtype; ours follows the input, so float64 runs differ by ~4e-3 there).
Trained here with the FeatUp trainer: the paper's objective (SAM-mask-refined
pseudo-ground-truth, then self-distillation) needs SAM, which this project has not.

Note (theirs): ``minmax`` pools over the batch, so one image's output depends on the
others in its batch (``minmax_per_image=True`` scales each image on its own).
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

import torch
from torch import Tensor, nn

from mmfeatup.models.layers.channel_norm import ChannelNorm
from mmfeatup.models.layers.fourier import coordinate_inputs, scaled_by_frequencies
from mmfeatup.registry import UPSAMPLERS
from .base import BaseUpsampler, Size, resize_guidance


class FourierFeaturizer(nn.Module):
    """LoftUp's ``ImplicitFeaturizer``: sines and cosines of scaled coordinates (and colours).

    ``feats = [sin(w_f v_d + b0[f, d]), cos(w_f v_d + b1[f, d])]`` (channel ``f * D + d``)
    plus the colours, for ``v = (y, x[, colours])``, ``w = exp(linspace(-2, 10, n_freqs))``.
    ``biases`` is stored ``[2, D, n_freqs]`` and read as ``[2, n_freqs, D]``, as theirs.

    Args:
        color_feats (bool): include the colours. Default: True.
        n_freqs (int): frequencies. Default: 10.
    """

    def __init__(self, color_feats: bool = True, n_freqs: int = 10) -> None:
        super().__init__()
        self.color_feats = bool(color_feats)
        self.n_freqs = int(n_freqs)
        self.dim_multiplier = 5 if self.color_feats else 2
        self.biases = nn.Parameter(torch.randn(2, self.dim_multiplier, self.n_freqs))

    @property
    def out_channels(self) -> int:
        return 2 * self.n_freqs * self.dim_multiplier + (3 if self.color_feats else 0)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``[B, Cx, h, w]`` (colours when ``color_feats``; else only its shape counts)."""
        scaled = scaled_by_frequencies(coordinate_inputs(x, self.color_feats),
                                       self.n_freqs)  # [B, F, D, h, w]
        biases = self.biases.to(x.dtype).reshape(2, self.n_freqs, self.dim_multiplier)
        sin = torch.sin(scaled + biases[0].view(1, self.n_freqs, -1, 1, 1))
        cos = torch.cos(scaled + biases[1].view(1, self.n_freqs, -1, 1, 1))
        parts = [sin.flatten(1, 2), cos.flatten(1, 2)]
        if self.color_feats:
            parts.append(x)
        return torch.cat(parts, dim=1)


def minmax_scale(x: Tensor, per_image: bool = False) -> Tensor:
    """``(x - min) / max(max - min, 1e-4) - 0.5`` per channel, over batch and space (or per
    image)."""
    dims = (2, 3) if per_image else (0, 2, 3)
    low = x.amin(dim=dims, keepdim=True)
    span = (x.amax(dim=dims, keepdim=True) - low).clamp_min(1e-4)
    return (x - low) / span - 0.5


class LayerNorm2d(nn.Module):
    """ConvNeXt's channel LayerNorm of ``[B, C, H, W]`` (eps 1e-6; keys ``weight``, ``bias``)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).square().mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight.view(1, -1, 1, 1) * x + self.bias.view(1, -1, 1, 1)


class CrossAttentionLayer(nn.Module):
    """``MHA(LN_q(q), LN_kv(kv), LN_kv(kv))`` (``nn.MultiheadAttention``, all projections)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, num_heads, batch_first=True)

    def forward(self, query: Tensor, key_value: Tensor) -> Tensor:
        kv = self.norm_kv(key_value)
        return self.attention(self.norm_q(query), kv, kv, need_weights=False)[0]


class FeedForward(nn.Module):
    """``Linear(GELU(Linear(LN(x))))`` (keys ``net.0``, ``net.1``, ``net.4`` as theirs)."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden_dim), nn.GELU(),
                                 nn.Dropout(0.0), nn.Linear(hidden_dim, dim), nn.Dropout(0.0))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class CATransformer(nn.Module):
    """``depth`` residual (cross-attention, feed-forward) pairs, then LayerNorm."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.layers = nn.ModuleList(
            nn.ModuleList([CrossAttentionLayer(dim, num_heads), FeedForward(dim, mlp_dim)])
            for _ in range(depth))

    def forward(self, query: Tensor, key_value: Tensor) -> Tensor:
        for attend, feed in self.layers:
            query = attend(query, key_value) + query
            query = feed(query) + query
        return self.norm(query)


def convert_loftup_hub_state_dict(state: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """A hub ``UpsamplerwithChannelNorm`` state dict -> ours (``input_norm=True``)."""
    out = {}
    for key, value in state.items():
        if key.startswith('upsampler.'):
            out[key[len('upsampler.'):]] = value
        elif key.startswith('channelnorm.'):
            out[key] = value
        else:
            raise KeyError(f'unexpected key {key!r} in a LoftUp hub state dict')
    return out


@UPSAMPLERS.register_module(name='LoftUp')
class LoftUpUpsampler(BaseUpsampler):
    """LoftUp: coordinate/colour Fourier queries cross-attending to the source features.

    Args:
        in_channels (int): source channels ``C`` (``C + 20`` must divide by ``num_heads``).
        guidance_channels (int): image channels (3: the colour features). Default: 3.
        scale_factor (float, optional): see :class:`BaseUpsampler`.
        n_freqs (int): Fourier frequencies of the queries. Default: 20.
        num_heads (int): attention heads. Default: 4.
        num_layers (int): cross-attention layers. Default: 2.
        input_norm (bool): ChannelNorm the source first (the hub models'
            ``UpsamplerwithChannelNorm``). Default: False (the bare ``LoftUp`` module).
        minmax_per_image (bool): scale the image per image, not over the batch.
            Default: False (theirs).
    """

    guidance_type = 'image'
    requires_guidance = True
    LR_PE_FREQS = 5

    def __init__(self,
                 in_channels: int,
                 guidance_channels: int = 3,
                 scale_factor: Optional[float] = None,
                 n_freqs: int = 20,
                 num_heads: int = 4,
                 num_layers: int = 2,
                 input_norm: bool = False,
                 minmax_per_image: bool = False) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        if self.guidance_channels != 3:
            raise ValueError(f'LoftUp: the guidance must be an RGB image (its colours are '
                             f'features), got guidance_channels={guidance_channels}')
        if int(n_freqs) != n_freqs or n_freqs < 1:
            raise ValueError(f'LoftUp: n_freqs must be a positive int, got {n_freqs!r}')
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f'LoftUp: num_layers must be a positive int, got {num_layers!r}')
        dim = self.in_channels
        self.lr_pe = FourierFeaturizer(color_feats=False, n_freqs=self.LR_PE_FREQS)
        self.lr_pe_dim = self.lr_pe.out_channels
        width = dim + self.lr_pe_dim
        if int(num_heads) != num_heads or num_heads < 1 or width % num_heads:
            raise ValueError(f'LoftUp: num_heads must divide in_channels + {self.lr_pe_dim} = '
                             f'{width}, got {num_heads!r}')
        self.input_norm = bool(input_norm)
        self.minmax_per_image = bool(minmax_per_image)
        self.fourier_feat = nn.Sequential(nn.Identity(), FourierFeaturizer(True, int(n_freqs)))
        start = self.fourier_feat[1].out_channels
        self.first_conv = nn.Sequential(
            ChannelNorm(start),
            nn.Conv2d(start, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.final_conv = nn.Sequential(nn.Conv2d(width, dim, 1), LayerNorm2d(dim))
        self.ca_transformer = CATransformer(width, int(num_layers), int(num_heads), dim)
        self.channelnorm = ChannelNorm(dim) if self.input_norm else None

    def upsample(self, source: Tensor, guidance: Tensor, size: Size) -> Tensor:
        if self.channelnorm is not None:
            source = self.channelnorm(source)
        image = resize_guidance(guidance, size).to(source.dtype)
        phi = self.fourier_feat[1](minmax_scale(image, self.minmax_per_image))
        query = self.first_conv(phi)
        batch, width, height, wide = query.shape
        keys = torch.cat([source, self.lr_pe(source)], dim=1).flatten(2).transpose(1, 2)
        out = self.ca_transformer(query.flatten(2).transpose(1, 2), keys)
        out = out.transpose(1, 2).reshape(batch, width, height, wide)
        return self.final_conv(out)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, input_norm={self.input_norm}, '
                f'minmax_per_image={self.minmax_per_image}')
