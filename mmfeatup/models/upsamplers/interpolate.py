"""Parameter-free interpolation baselines: nearest, bilinear, bicubic."""
from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from mmfeatup.registry import UPSAMPLERS
from .base import BaseUpsampler, Size


class _Interpolate(BaseUpsampler):
    """``F.interpolate`` with a fixed mode; ignores guidance."""

    mode: str = 'bilinear'

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, align_corners: bool = False) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        self.align_corners = align_corners

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        if self.mode == 'nearest':
            return F.interpolate(source, size=size, mode='nearest')
        return F.interpolate(source, size=size, mode=self.mode,
                             align_corners=self.align_corners)


@UPSAMPLERS.register_module(name='Nearest')
class NearestUpsampler(_Interpolate):
    """Nearest-neighbour upsampling."""

    mode = 'nearest'


@UPSAMPLERS.register_module(name='Bilinear')
class BilinearUpsampler(_Interpolate):
    """Bilinear upsampling (``align_corners=False`` by default, as mmseg's ``resize``)."""

    mode = 'bilinear'


@UPSAMPLERS.register_module(name='Bicubic')
class BicubicUpsampler(_Interpolate):
    """Bicubic upsampling."""

    mode = 'bicubic'
