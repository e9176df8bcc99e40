"""Regularisers of FeatUp training: sampled dense-CRF loss and total variation."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn


class SampledCRFLoss(nn.Module):
    """Dense-CRF smoothness on random pixel pairs.

    For ``n_samples`` random pixels (shared by the batch) with normalised
    coordinates ``p`` (divided by H, W) and guidance colours ``g``, the pairwise
    affinity is ``w1 exp(-|dp|^2 / 2a - |dg|^2 / 2b) + w2 exp(-|dp|^2 / 2g) - shift``
    and the loss is ``mean(affinity * |df|^2)`` over all pairs and the batch.

    Args:
        n_samples (int): pixels drawn per call. Default: 1000.
        alpha (float): bilateral position bandwidth ``a``. Default: 0.1.
        beta (float): bilateral colour bandwidth ``b``. Default: 0.15.
        gamma (float): smoothness position bandwidth ``g``. Default: 0.005.
        w1 (float): bilateral weight. Default: 10.
        w2 (float): smoothness weight. Default: 3.
        shift (float): constant subtracted from the affinity. Default: 0.
    """

    def __init__(self, n_samples: int = 1000, alpha: float = 0.1, beta: float = 0.15,
                 gamma: float = 0.005, w1: float = 10.0, w2: float = 3.0,
                 shift: float = 0.0) -> None:
        super().__init__()
        self.n_samples = int(n_samples)
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.w1, self.w2, self.shift = w1, w2, shift

    def forward(self, guidance: Tensor, features: Tensor,
                generator: Optional[torch.Generator] = None) -> Tensor:
        """Loss of ``features`` ``[B, C, H, W]`` guided by ``guidance`` ``[B, Cg, H, W]``."""
        if guidance.shape[0] != features.shape[0] or guidance.shape[-2:] != features.shape[-2:]:
            raise ValueError(f'SampledCRFLoss: guidance {tuple(guidance.shape)} and features '
                             f'{tuple(features.shape)} must share batch and spatial size')
        height, width = features.shape[-2:]
        ys = torch.randint(0, height, (self.n_samples, ), generator=generator).to(features.device)
        xs = torch.randint(0, width, (self.n_samples, ), generator=generator).to(features.device)
        pos = torch.stack([ys / height, xs / width], dim=0).to(features.dtype)  # [2, N]
        pos_d = (pos[:, :, None] - pos[:, None, :]).square().sum(0)  # [N, N]
        g = guidance[:, :, ys, xs]  # [B, Cg, N]
        col_d = (g[:, :, :, None] - g[:, :, None, :]).square().sum(1)  # [B, N, N]
        affinity = (self.w1 * torch.exp(-pos_d / (2 * self.alpha) - col_d / (2 * self.beta)) +
                    self.w2 * torch.exp(-pos_d / (2 * self.gamma)) - self.shift)
        f = features[:, :, ys, xs]  # [B, C, N]
        sq = f.square().sum(1)  # [B, N]
        # |fi - fj|^2 = |fi|^2 + |fj|^2 - 2 <fi, fj>, without a [B, C, N, N] tensor.
        feat_d = (sq[:, :, None] + sq[:, None, :] -
                  2 * torch.einsum('bcn,bcm->bnm', f, f)).clamp_min(0)
        return (affinity * feat_d).mean()


def tv_loss(x: Tensor) -> Tensor:
    """Total variation: summed squared neighbour differences over ``B*C*H*W``."""
    b, c, h, w = x.shape
    dy = (x[:, :, 1:, :] - x[:, :, :-1, :]).square().sum()
    dx = (x[:, :, :, 1:] - x[:, :, :, :-1]).square().sum()
    return (dy + dx) / (b * c * h * w)
