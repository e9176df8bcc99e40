"""Sub-pixel convolution (Shi et al., "Real-Time Single Image and Video Super-Resolution
Using an Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016)."""
from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from .base import FixedRatioUpsampler, Size, check_odd


def prime_factors(value: int) -> List[int]:
    """Prime factors of ``value`` in ascending order (``[]`` for 1)."""
    factors, divisor = [], 2
    while value > 1:
        while value % divisor == 0:
            factors.append(divisor)
            value //= divisor
        divisor += 1
    return factors


def icnr_(weight: Tensor, factor: int) -> None:
    """ICNR init (Aitken et al. 2017): each sub-pixel copy gets the same kernel.

    With a Dirac base kernel the stage starts as nearest-neighbour upsampling.
    """
    out_channels = weight.shape[0] // (factor * factor)
    base = torch.zeros(out_channels, *weight.shape[1:])
    nn.init.dirac_(base)
    weight.data.copy_(base.repeat_interleave(factor * factor, dim=0))


@UPSAMPLERS.register_module(name='PixelShuffle')
class PixelShuffleUpsampler(FixedRatioUpsampler):
    """Convolution to ``C * f^2`` channels and ``PixelShuffle(f)``, one stage per
    prime factor ``f`` of the ratio (x16 = four x2 stages; one x16 stage would
    need ``256 * C^2`` weights).

    Integer ratios only, fixed at build time by ``scale_factor`` (default 2);
    any other ratio raises ValueError. Initialised with ICNR + Dirac, i.e. as
    nearest upsampling.

    Args:
        in_channels (int): feature channels ``C`` (kept).
        guidance_channels (int): unused. Default: 3.
        scale_factor (int, optional): the ratio. Default: None (= 2).
        kernel_size (int): odd convolution size of each stage. Default: 1.
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, kernel_size: int = 1) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        kernel_size = check_odd('kernel_size', kernel_size)
        stages = []
        for factor in prime_factors(self.scale):
            conv = nn.Conv2d(in_channels, in_channels * factor * factor, kernel_size,
                             padding=kernel_size // 2)
            icnr_(conv.weight, factor)
            nn.init.zeros_(conv.bias)
            stages.append(nn.Sequential(conv, nn.PixelShuffle(factor)))
        self.stages = nn.Sequential(*stages)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        return self.stages(source)
