"""Predicted uncertainty (FeatUp's "ScaleNet") and its Gaussian likelihood loss."""
from __future__ import annotations

import torch
from torch import Tensor, nn


class ScaleNet(nn.Module):
    """Per-cell scale ``s = exp(Conv1x1(C -> 1)(x) + 0.1).clamp_min(1e-4)``.

    The conv starts at a tenth of PyTorch's default initialisation, so ``s``
    starts near ``exp(0.1)``.

    Args:
        channels (int): input channels ``C``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Conv2d(channels, 1, 1)
        with torch.no_grad():
            self.net.weight.mul_(0.1)
            self.net.bias.mul_(0.1)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, h, w] -> [B, 1, h, w]`` positive scales."""
        return torch.exp(self.net(x) + 0.1).clamp_min(1e-4)


def uncertainty_loss(pred: Tensor, target: Tensor, scale: Tensor) -> Tensor:
    """``mean((pred - target)^2 / (2 s^2) + log s)`` (``s`` broadcast over channels).

    Args:
        pred (Tensor): ``[B, D, h, w]``.
        target (Tensor): ``[B, D, h, w]``.
        scale (Tensor): ``[B, 1, h, w]`` positive.

    Returns:
        Tensor: scalar loss.
    """
    sq = (pred - target).square()
    return (sq / (2 * scale.square()) + scale.log()).mean()
