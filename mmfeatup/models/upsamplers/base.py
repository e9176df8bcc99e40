"""The one interface every feature upsampler implements.

``upsampler(source, guidance=None, output_size=None) -> Tensor``

* ``source``: low-resolution features ``[B, C, h, w]``.
* ``guidance``: what guides the upsampling, or None: the image ``[B, 3, H, W]``
  (FeatUp JBU, ``guidance_type='image'``) or a finer feature map
  ``[B, Cg, H', W']`` (FADE/SAPA style, ``guidance_type='feature'``). Any size:
  each upsampler resizes it where it needs (:func:`resize_guidance`).
* ``output_size``: ``(H_out, W_out)``; when None, ``scale_factor`` (if set) or
  else the guidance's size decides (:meth:`BaseUpsampler.resolve_output_size`).

:class:`BaseUpsampler` validates the inputs once; subclasses implement
:meth:`BaseUpsampler.upsample` and never re-check them. Upsamplers whose
parameters are bound to one integer ratio derive from
:class:`FixedRatioUpsampler`, which checks that ratio (once, with the rest).
The small argument checks shared by several upsamplers are here too
(:func:`check_odd`, :func:`check_groups`, :func:`design_scale`).
Shared plumbing lives in :mod:`mmfeatup.models.layers` (bicubic resizing,
window gathering and reassembly).
"""
from __future__ import annotations

import math
from typing import ClassVar, Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.models.layers.windows import exact_integer_ratio

Size = Tuple[int, int]


def to_size(size: Union[int, Sequence[int]], name: str = 'output_size') -> Size:
    """Normalise an int or a pair to a ``(height, width)`` tuple of positive ints."""
    if isinstance(size, int):
        size = (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f'{name} must be a positive int or (height, width), got {size!r}')
    return size  # type: ignore[return-value]


def resize_guidance(guidance: Tensor, size: Size, mode: str = 'area') -> Tensor:
    """Resize guidance to ``size``.

    Args:
        guidance (Tensor): ``[B, Cg, H, W]``.
        size (tuple[int, int]): target ``(height, width)``.
        mode (str): ``'area'`` (adaptive average pooling, what FeatUp does to the
            image; bilinear where it would enlarge), ``'bilinear'`` or ``'nearest'``.

    Returns:
        Tensor: ``[B, Cg, *size]`` (the input itself if already that size).
    """
    if tuple(guidance.shape[-2:]) == tuple(size):
        return guidance
    if mode == 'area':
        if guidance.shape[-2] >= size[0] and guidance.shape[-1] >= size[1]:
            return F.adaptive_avg_pool2d(guidance, size)
        mode = 'bilinear'
    if mode == 'bilinear':
        return F.interpolate(guidance, size=size, mode='bilinear', align_corners=False)
    return F.interpolate(guidance, size=size, mode=mode)


def check_odd(name: str, value: int) -> int:
    """``value`` as an int, or ValueError unless it is a positive odd int (window sizes)."""
    if int(value) != value or value < 1 or value % 2 != 1:
        raise ValueError(f'{name} must be a positive odd int, got {value!r}')
    return int(value)


def check_groups(groups: int, in_channels: int) -> int:
    """``groups`` as an int, or ValueError unless it is positive and divides ``in_channels``."""
    if int(groups) != groups or groups <= 0 or in_channels % groups:
        raise ValueError(f'groups must divide in_channels={in_channels}, got {groups!r}')
    return int(groups)


def design_scale(scale_factor: Optional[float], name: str) -> int:
    """The integer design ratio of a scale-bound upsampler (default 2).

    Args:
        scale_factor (float, optional): the configured ratio; None means 2.
        name (str): the module's name, for the error message.

    Returns:
        int: the ratio, ``>= 1``.
    """
    scale = 2 if scale_factor is None else scale_factor
    if float(scale) != int(scale) or int(scale) < 1:
        raise ValueError(f'{name}: scale_factor must be an integer >= 1, got {scale_factor!r}')
    return int(scale)


class BaseUpsampler(nn.Module):
    """Base class of all feature upsamplers.

    Args:
        in_channels (int): channels ``C`` of the source features.
        guidance_channels (int): channels of the guidance (3 for an image).
            Default: 3.
        scale_factor (float, optional): ratio used when ``output_size`` is not
            given. Default: None (then the guidance's size is used).

    Class attributes:
        guidance_type: ``None`` (ignores guidance), ``'image'`` or ``'feature'``.
        requires_guidance: whether ``guidance`` must be given.
        fixed_ratio: whether the module works only at its design ratio
            (:class:`FixedRatioUpsampler`).
    """

    guidance_type: ClassVar[Optional[str]] = None
    requires_guidance: ClassVar[bool] = False
    fixed_ratio: ClassVar[bool] = False

    def __init__(self,
                 in_channels: int,
                 guidance_channels: int = 3,
                 scale_factor: Optional[float] = None) -> None:
        super().__init__()
        if int(in_channels) <= 0:
            raise ValueError(f'in_channels must be positive, got {in_channels}')
        self.in_channels = int(in_channels)
        self.guidance_channels = int(guidance_channels)
        self.scale_factor = scale_factor

    @property
    def out_channels(self) -> int:
        """Channels of the output (the source's, unless a subclass changes it)."""
        return self.in_channels

    def resolve_output_size(self, source: Tensor, guidance: Optional[Tensor],
                            output_size: Optional[Union[int, Sequence[int]]]) -> Size:
        """``output_size`` if given, else ``scale_factor`` x source, else guidance size."""
        if output_size is not None:
            return to_size(output_size)
        if self.scale_factor is not None:
            return (int(math.floor(source.shape[-2] * self.scale_factor + 0.5)),
                    int(math.floor(source.shape[-1] * self.scale_factor + 0.5)))
        if guidance is not None:
            return (int(guidance.shape[-2]), int(guidance.shape[-1]))
        raise ValueError(f'{type(self).__name__}: give output_size (or set scale_factor, '
                         'or pass guidance)')

    def check_inputs(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> None:
        """Validate ranks, channels, batch and ratio; raise ValueError naming the argument."""
        name = type(self).__name__
        if source.dim() != 4:
            raise ValueError(f'{name}: source must be [B, C, h, w], got shape {tuple(source.shape)}')
        if source.shape[1] != self.in_channels:
            raise ValueError(f'{name}: source has {source.shape[1]} channels, '
                             f'in_channels={self.in_channels}')
        if source.numel() == 0:
            raise ValueError(f'{name}: source is empty, shape {tuple(source.shape)}')
        if guidance is None:
            if self.requires_guidance:
                raise ValueError(f'{name}: guidance is required ({self.guidance_type})')
        elif self.guidance_type is not None:
            if guidance.dim() != 4:
                raise ValueError(f'{name}: guidance must be [B, Cg, H, W], '
                                 f'got shape {tuple(guidance.shape)}')
            if guidance.shape[0] != source.shape[0]:
                raise ValueError(f'{name}: guidance batch {guidance.shape[0]} != '
                                 f'source batch {source.shape[0]}')
            if guidance.shape[1] != self.guidance_channels:
                raise ValueError(f'{name}: guidance has {guidance.shape[1]} channels, '
                                 f'guidance_channels={self.guidance_channels}')

    def forward(self, source: Tensor, guidance: Optional[Tensor] = None,
                output_size: Optional[Union[int, Sequence[int]]] = None) -> Tensor:
        """Upsample ``source`` to ``output_size``, guided by ``guidance``.

        Args:
            source (Tensor): ``[B, C, h, w]``.
            guidance (Tensor, optional): ``[B, guidance_channels, H, W]``.
            output_size (int | tuple[int, int], optional): target size.

        Returns:
            Tensor: ``[B, out_channels, *output_size]``.
        """
        size = self.resolve_output_size(source, guidance, output_size)
        self.check_inputs(source, guidance, size)
        return self.upsample(source, guidance if self.guidance_type else None, size)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        """Compute the output; inputs are already validated."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, guidance_type={self.guidance_type}, '
                f'scale_factor={self.scale_factor}')


class FixedRatioUpsampler(BaseUpsampler):
    """Base of upsamplers whose parameters are bound to one integer ratio ``s``.

    ``scale_factor`` (an int, default 2) is that ratio; :meth:`check_inputs`
    rejects any other output size (unequal, non-integer or another integer
    ratio) with a ValueError, so :meth:`upsample` may assume exactly ``x s``.

    Args:
        in_channels (int): channels ``C`` of the source features.
        guidance_channels (int): channels of the guidance. Default: 3.
        scale_factor (int, optional): the ratio. Default: None (= 2).
    """

    fixed_ratio: ClassVar[bool] = True

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None) -> None:
        scale = design_scale(scale_factor, type(self).__name__)
        super().__init__(in_channels, guidance_channels, scale)
        self.scale = scale

    def check_inputs(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> None:
        """Base checks plus: ``size`` is exactly ``scale`` x the source on both axes."""
        super().check_inputs(source, guidance, size)
        ratio = exact_integer_ratio(source.shape[-2:], size)
        if ratio != self.scale:
            raise ValueError(
                f'{type(self).__name__} was built for x{self.scale} (scale_factor) and works '
                f'only at that ratio; output_size {tuple(size)} from '
                f'{tuple(source.shape[-2:])} is not x{self.scale} on both axes')
