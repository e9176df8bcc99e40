"""ChannelNorm: LayerNorm over the channels of a ``[B, C, H, W]`` map."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class ChannelNorm(nn.Module):
    """LayerNorm over dim 1 of a feature map, with an affine transform.

    Args:
        channels (int): number of channels ``C``.
        eps (float): LayerNorm epsilon. Default: 1e-5.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x`` ``[B, C, H, W]`` over ``C``."""
        return F.layer_norm(x.permute(0, 2, 3, 1), self.norm.normalized_shape,
                            self.norm.weight, self.norm.bias,
                            self.norm.eps).permute(0, 3, 1, 2)
