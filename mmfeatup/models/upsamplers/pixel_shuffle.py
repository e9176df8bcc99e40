"""Sub-pixel convolution (Shi et al., "Real-Time Single Image and Video Super-Resolution
Using an Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016)."""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from .base import BaseUpsampler, Size, integer_ratio


def prime_factors(value: int) -> List[int]:
    """Prime factors of ``value`` in ascending order (``[]`` for 1)."""
    factors, divisor = [], 2
    while value > 1:
        while value % divisor == 0:
            factors.append(divisor)
            value //= divisor
        divisor += 1
    return factors


def checked_scale(scale_factor: Optional[float], name: str) -> int:
    """The design ratio of a fixed-ratio upsampler (default 2); ValueError if not an int >= 1."""
    scale = 2 if scale_factor is None else scale_factor
    if float(scale) != int(scale) or int(scale) < 1:
        raise ValueError(f'{name}: scale_factor must be an integer >= 1, got {scale_factor!r}')
    return int(scale)


def check_fixed_ratio(source: Tensor, size: Size, scale: int, name: str) -> None:
    """ValueError unless ``source -> size`` is exactly the module's integer ``scale``."""
    ratio = integer_ratio(tuple(int(v) for v in source.shape[-2:]), size, name)
    if ratio != scale:
        raise ValueError(f'{name} was built for x{scale} (scale_factor) but output_size '
                         f'{tuple(size)} asks x{ratio} from {tuple(source.shape[-2:])}')


def icnr_(weight: Tensor, factor: int) -> None:
    """ICNR init (Aitken et al. 2017): each sub-pixel copy gets the same kernel.

    With a Dirac base kernel the stage starts as nearest-neighbour upsampling.
    """
    out_channels = weight.shape[0] // (factor * factor)
    base = torch.zeros(out_channels, *weight.shape[1:])
    nn.init.dirac_(base)
    weight.data.copy_(base.repeat_interleave(factor * factor, dim=0))


@UPSAMPLERS.register_module(name='PixelShuffle')
class PixelShuffleUpsampler(BaseUpsampler):
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

    integer_ratio_only = True

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, kernel_size: int = 1) -> None:
        scale = checked_scale(scale_factor, type(self).__name__)
        super().__init__(in_channels, guidance_channels, scale)
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.scale = scale
        stages = []
        for factor in prime_factors(scale):
            conv = nn.Conv2d(in_channels, in_channels * factor * factor, kernel_size,
                             padding=kernel_size // 2)
            icnr_(conv.weight, factor)
            nn.init.zeros_(conv.bias)
            stages.append(nn.Sequential(conv, nn.PixelShuffle(factor)))
        self.stages = nn.Sequential(*stages)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        check_fixed_ratio(source, size, self.scale, type(self).__name__)
        return self.stages(source)
