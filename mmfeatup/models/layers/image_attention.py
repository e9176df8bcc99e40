"""Blocks of the image-query attention upsamplers (JAFAR, AnyUp).

Both papers (Couairon et al. 2025, "JAFAR: Jack up Any Feature at Any Resolution";
Wimmer et al. 2025, "AnyUp: Universal Feature Upsampling") upsample ``source``
``[B, C, h, w]`` with ONE cross-attention step: queries come from the encoded image at
the output size, keys from the image pooled to the source grid (mixed with the
source's own normalised features), and the values are the source features themselves,
unprojected. Every output is therefore a convex combination of source vectors:

``out[:, n] = sum_m A[n, m] source[:, m]``,
``A = mean_heads softmax((RMS(q) Wq_h + bq_h)(RMS(k) Wk_h + bk_h)^T / sqrt(d) + mask)``.

What is here, written from the authors' descriptions and public code (names of
parameters follow their modules so that their state dicts load):

* :class:`ResBlock`, :func:`make_encoder`: GroupNorm-SiLU-conv residual blocks
  (``layout='named'``: JAFAR's ``norm1/conv1/norm2/conv2`` keys; ``'sequential'``:
  AnyUp's ``block.0 .. block.5`` keys).
* :class:`RoPE2d`: their learnable "RoPE" on the encoded image (coordinates
  ``linspace(0, 1)`` per axis, rows on the first half of the frequency table, columns
  on the second, the rotate-half pairing of channel ``i`` with ``i + E/2``).
* :class:`HeadAveragedAttention`, :class:`CrossAttention`, :class:`CrossAttentionBlock`:
  the part of ``nn.MultiheadAttention`` they use (the head-averaged weights, never its
  value or output projection), optional AnyUp windows (:func:`window_attention_mask`)
  and chunking over queries. A load hook accepts the official MHA keys
  (``in_proj_weight`` split into ``q_proj_weight``/``k_proj_weight``; the unused
  ``v_proj_weight``, ``out_proj.*`` and ``norm_v.weight`` dropped).
* :class:`LearnedFeatureUnification`: AnyUp's feature-agnostic first layer.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Size = Tuple[int, int]

# an upper bound on the logits materialised at once per chunk (B * heads * n * M)
_CHUNK_ELEMENTS = 1 << 23


def window_attention_mask(out_size: Sequence[int], src_size: Sequence[int], ratio: float,
                          device=None) -> Tensor:
    """AnyUp's window: which source cells each output pixel may attend to.

    Output pixel ``(Y, X)`` has centre ``p = ((Y + .5) / H, (X + .5) / W)``; it sees the
    source rows ``[floor(clamp(p_y - r) h), ceil(clamp(p_y + r) h))`` and likewise
    columns (``clamp`` to ``[0, 1]``; computed in float32 as the authors do). Never
    empty for ``r > 0``.

    Returns:
        Tensor: bool ``[H * W, h * w]``, True where attention is allowed.
    """
    def axis(out_len: int, src_len: int) -> Tensor:
        pos = (torch.arange(out_len, device=device, dtype=torch.float32) + 0.5) / out_len
        lo = ((pos - ratio).clamp(0.0, 1.0) * src_len).floor().long()
        hi = ((pos + ratio).clamp(0.0, 1.0) * src_len).ceil().long()
        idx = torch.arange(src_len, device=device)
        return (idx >= lo[:, None]) & (idx < hi[:, None])  # [out_len, src_len]

    rows = axis(int(out_size[0]), int(src_size[0]))
    cols = axis(int(out_size[1]), int(src_size[1]))
    allowed = rows[:, None, :, None] & cols[None, :, None, :]
    return allowed.reshape(rows.shape[0] * cols.shape[0], rows.shape[1] * cols.shape[1])


class HeadAveragedAttention(nn.Module):
    """The head-averaged attention weights of ``nn.MultiheadAttention``, nothing else.

    Parameters carry MHA's names: ``q_proj_weight``, ``k_proj_weight`` (``[E, E]``) and
    ``in_proj_bias`` (``[3E]``, MHA's packing; its value third is kept for the key
    layout and, as in the authors' models, unused). MHA's init: xavier-uniform
    projections, zero bias.

    Args:
        embed_dim (int): ``E``.
        num_heads (int): heads (dividing ``E``).
    """

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim))
        self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.q_proj_weight)
        nn.init.xavier_uniform_(self.k_proj_weight)
        nn.init.zeros_(self.in_proj_bias)

    def project_keys(self, key: Tensor) -> Tensor:
        """``[B, M, E] -> [B, heads, M, d]``."""
        dim = self.embed_dim
        k = F.linear(key, self.k_proj_weight, self.in_proj_bias[dim:2 * dim])
        return k.view(key.shape[0], key.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: Tensor, keys: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Weights ``[B, n, M]`` of queries ``[B, n, E]`` on projected keys (:meth:`project_keys`).

        ``mask``: bool ``[n, M]``, True where allowed (every row has one).
        """
        dim = self.embed_dim
        q = F.linear(query, self.q_proj_weight, self.in_proj_bias[:dim])
        q = q.view(query.shape[0], query.shape[1], self.num_heads, self.head_dim).transpose(1, 2)
        logits = torch.matmul(q, keys.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        if mask is not None:
            logits = logits.masked_fill(~mask, float('-inf'))
        return logits.softmax(-1).mean(1)


def _drop_official_unused(module: nn.Module, state_dict, prefix: str, *args) -> None:
    """Load hook of :class:`CrossAttention`: accept the authors' MHA keys."""
    packed = prefix + 'attention.in_proj_weight'
    if packed in state_dict:
        weight = state_dict.pop(packed)
        dim = weight.shape[1]
        state_dict.setdefault(prefix + 'attention.q_proj_weight', weight[:dim])
        state_dict.setdefault(prefix + 'attention.k_proj_weight', weight[dim:2 * dim])
    for name in ('attention.v_proj_weight', 'attention.out_proj.weight',
                 'attention.out_proj.bias', 'norm_v.weight'):
        state_dict.pop(prefix + name, None)


class CrossAttention(nn.Module):
    """RMS-normalised queries and keys, head-averaged weights, unprojected values.

    ``out = A v`` with ``A = HeadAveragedAttention(RMS_q(q), RMS_k(k))``; every output
    row is a convex combination of the rows of ``v``.

    Args:
        dim (int): query/key channels ``E``.
        num_heads (int): heads.
        q_chunk_size (int, optional): queries per chunk; None picks one that keeps the
            logits of a chunk under ~8M elements.
    """

    def __init__(self, dim: int, num_heads: int, q_chunk_size: Optional[int] = None) -> None:
        super().__init__()
        self.norm_q = nn.RMSNorm(dim)
        self.norm_k = nn.RMSNorm(dim)
        self.attention = HeadAveragedAttention(dim, num_heads)
        self.q_chunk_size = q_chunk_size
        self.register_load_state_dict_pre_hook(_drop_official_unused)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                mask: Optional[Tensor] = None) -> Tensor:
        """``query [B, N, E]``, ``key [B, M, E]``, ``value [B, M, C]``, ``mask [N, M]``
        -> ``[B, N, C]``."""
        keys = self.attention.project_keys(self.norm_k(key))
        batch, length = query.shape[:2]
        chunk = self.q_chunk_size or max(
            1, _CHUNK_ELEMENTS // max(1, batch * self.attention.num_heads * key.shape[1]))
        outputs = []
        for start in range(0, length, chunk):
            stop = min(start + chunk, length)
            weights = self.attention(self.norm_q(query[:, start:stop]), keys,
                                     None if mask is None else mask[start:stop])
            outputs.append(torch.matmul(weights, value))
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)


class CrossAttentionBlock(nn.Module):
    """A 3x3 conv on the query map, then :class:`CrossAttention` (optionally windowed).

    Args:
        dim (int): query/key channels ``E``.
        num_heads (int): heads.
        window_ratio (float): AnyUp's window half-size as a fraction of the image
            (:func:`window_attention_mask`); 0 for global attention (JAFAR). Default: 0.
        q_chunk_size (int, optional): see :class:`CrossAttention`.
    """

    def __init__(self, dim: int, num_heads: int, window_ratio: float = 0.0,
                 q_chunk_size: Optional[int] = None) -> None:
        super().__init__()
        if window_ratio < 0:
            raise ValueError(f'window_ratio must be >= 0, got {window_ratio!r}')
        self.cross_attn = CrossAttention(dim, num_heads, q_chunk_size)
        self.conv2d = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.window_ratio = float(window_ratio)

    def forward(self, query: Tensor, key: Tensor, value: Tensor) -> Tensor:
        """``query [B, E, H, W]``, ``key [B, E, h, w]``, ``value [B, C, h, w]``
        -> ``[B, C, H, W]``."""
        query = self.conv2d(query)
        batch, _, height, width = query.shape
        mask = None
        if self.window_ratio > 0:
            mask = window_attention_mask((height, width), key.shape[-2:], self.window_ratio,
                                         device=query.device)
        out = self.cross_attn(query.flatten(2).transpose(1, 2), key.flatten(2).transpose(1, 2),
                              value.flatten(2).transpose(1, 2), mask)
        return out.transpose(1, 2).reshape(batch, value.shape[1], height, width)

    def extra_repr(self) -> str:
        return f'window_ratio={self.window_ratio}'
