"""Resize-convolution (Odena et al., "Deconvolution and Checkerboard Artifacts", 2016)."""
from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from .base import BaseUpsampler, Size, check_odd


@UPSAMPLERS.register_module(name='ResizeConv')
class ResizeConvUpsampler(BaseUpsampler):
    """Interpolate to the output size, then a learned ``k x k`` convolution.

    Works at any output size (non-integer and unequal ratios). The convolution
    is initialised to the identity (Dirac kernel, zero bias), so an untrained
    module equals plain interpolation and training starts from that baseline.

    Args:
        in_channels (int): feature channels ``C`` (kept).
        guidance_channels (int): unused (no guidance). Default: 3.
        scale_factor (float, optional): ratio when ``output_size`` is not given.
        mode (str): interpolation, ``'nearest'`` (Odena et al.) or
            ``'bilinear'``. Default: ``'nearest'``.
        kernel_size (int): odd convolution size. Default: 3.
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, mode: str = 'nearest',
                 kernel_size: int = 3) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        if mode not in ('nearest', 'bilinear'):
            raise ValueError(f"mode must be 'nearest' or 'bilinear', got {mode!r}")
        kernel_size = check_odd('kernel_size', kernel_size)
        self.mode = mode
        self.conv = nn.Conv2d(in_channels, in_channels, kernel_size, padding=kernel_size // 2)
        nn.init.dirac_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        if self.mode == 'nearest':
            resized = F.interpolate(source, size=size, mode='nearest-exact')
        else:
            resized = F.interpolate(source, size=size, mode='bilinear', align_corners=False)
        return self.conv(resized)
