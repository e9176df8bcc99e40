"""Transposed convolution ("deconvolution"), bilinear-initialised as in FCN.

Long et al., "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from .base import FixedRatioUpsampler, Size, check_groups


def bilinear_kernel(scale: int) -> Tensor:
    """FCN's bilinear upsampling kernel of size ``2s - s % 2``: ``[k, k]``."""
    size = 2 * scale - scale % 2
    center = scale - 1 if size % 2 == 1 else scale - 0.5
    grid = torch.arange(size, dtype=torch.float64)
    line = 1 - (grid - center).abs() / scale
    return torch.outer(line, line).float()


@UPSAMPLERS.register_module(name='Deconv')
class DeconvUpsampler(FixedRatioUpsampler):
    """One ``ConvTranspose2d`` with stride ``s``, kernel ``2s - s % 2``, padding ``ceil((s-1)/2)``.

    The kernel is initialised to FCN's bilinear kernel (so an untrained module
    is bilinear upsampling up to the border). ``groups`` defaults to
    ``in_channels`` (depthwise): a dense x16 deconvolution of C=384 features
    would carry ``C^2 * 31^2`` = 142 M weights. Integer ratios only, fixed at
    build time by ``scale_factor`` (default 2).

    Args:
        in_channels (int): feature channels ``C`` (kept).
        guidance_channels (int): unused. Default: 3.
        scale_factor (int, optional): the ratio. Default: None (= 2).
        groups (int, optional): convolution groups; None = depthwise.
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, groups: Optional[int] = None) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        scale = self.scale
        groups = check_groups(in_channels if groups is None else groups, in_channels)
        kernel = bilinear_kernel(scale)
        self.deconv = nn.ConvTranspose2d(in_channels, in_channels, kernel.shape[0], stride=scale,
                                         padding=scale // 2,
                                         groups=groups)
        with torch.no_grad():
            weight = torch.zeros_like(self.deconv.weight)  # [C, C/g, k, k]
            per_group = in_channels // groups
            for channel in range(in_channels):
                weight[channel, channel % per_group] = kernel
            self.deconv.weight.copy_(weight)
            self.deconv.bias.zero_()

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        return self.deconv(source)
