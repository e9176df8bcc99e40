"""FeatUpNeck: upsample backbone levels to one fine grid with any feature upsampler.

The neck sits between a backbone and an unchanged decode head (e.g.
``SegformerHead``)::

    backbone -> [f0 (stride 4), f1 (8), f2 (16), f3 (32)]
             -> FeatUpNeck: f1, f2, f3 upsampled to f0's grid, guided by the image
             -> decode head (its own resizes are now no-ops)

It needs the input image when an upsampler is image-guided (FeatUp's JBU):
use the segmentor ``GuidedEncoderDecoder``, which calls ``neck(features, image)``.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmfeatup.registry import MODELS, UPSAMPLERS, build_upsampler

Size = Tuple[int, int]
Guidance = Union[str, int, None]


@MODELS.register_module()
class FeatUpNeck(BaseModule):
    """Upsample selected backbone levels to the finest grid with a feature upsampler.

    One upsampler is built per selected level (weights are not shared: levels
    have different channels and statistics) with
    :func:`mmfeatup.registry.build_upsampler`, which receives
    ``in_channels=in_channels[level]`` and ``guidance_channels`` (3 for the
    image, or the guiding level's channels). Levels not in ``in_index`` pass
    through unchanged, so the neck returns as many maps as it receives.

    Relation to stock SegFormer: ``SegformerHead`` applies conv1x1-BN-act per
    level and then resizes every level to level 0; with this neck the resize
    (now any upsampler) comes first and the head's resizes become identities.
    With ``upsampler=dict(type='Bilinear')`` the model equals stock SegFormer
    exactly when the head's per-level activation is the identity (eval mode;
    linear maps commute with bilinear resizing, tested); with the stock ReLU
    the head then sees full-resolution features, i.e. a different model, and
    ``configs/segformer/upsamplers/*bilinear*`` is the like-for-like baseline.

    Args:
        in_channels (Sequence[int]): channels of every backbone level, finest
            first (as ``SegformerHead.in_channels``; ``GuidedEncoderDecoder``
            passes the decode head's when the config sets none).
        in_index (Sequence[int], optional): levels to upsample. Default: every
            level except the first (finest) one.
        upsampler (dict): config of the upsampler, ``dict(type=NAME, ...)``
            with NAME registered in ``mmfeatup.registry.UPSAMPLERS``.
            Default: ``dict(type='JBUStack')``.
        guidance (str | int | None): what guides the upsamplers: ``'image'``
            (FeatUp: the normalised input image), a level index (FADE/SAPA
            style: a finer feature level), or None (guidance-free upsamplers
            such as ``'Bilinear'``). Default: ``'image'``.
        output_stride (int, optional): output grid ``ceil(H / s) x ceil(W / s)``
            of the image ``H x W``. Default: None, i.e. the size of the largest
            input level.
        image_channels (int): channels of the input image. Default: 3.
        strides (Sequence[int], optional): the backbone's output stride of every
            level. Used only to build scale-bound upsamplers
            (:class:`~mmfeatup.models.upsamplers.FixedRatioUpsampler`: CARAFE,
            Deconv, PixelShuffle), whose parameters depend on the ratio: level
            ``i`` gets ``scale_factor = strides[i] / s`` with ``s`` the output
            grid's stride (``output_stride``, else the finest level's stride).
            Default: None, i.e. the usual pyramid ``4, 8, 16, 32, ...`` (MiT,
            ResNet, Swin, ConvNeXt, EfficientNet); give it for other backbones
            (e.g. dilated ResNets, ``[4, 8, 8, 8]``). A wrong value is caught at
            the first forward (the upsampler then names its ratio).
        scale_factors (Sequence[float], optional): one ratio per ``in_index``
            level, overriding the ratios derived from ``strides``. Default: None.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    #: The neck keeps every level's channels, so a segmentor may give it the head's.
    channels_from_head: ClassVar[bool] = True

    def __init__(self,
                 in_channels: Optional[Sequence[int]] = None,
                 in_index: Optional[Sequence[int]] = None,
                 upsampler: Optional[Dict[str, Any]] = None,
                 guidance: Guidance = 'image',
                 output_stride: Optional[int] = None,
                 image_channels: int = 3,
                 scale_factors: Optional[Sequence[float]] = None,
                 strides: Optional[Sequence[int]] = None,
                 init_cfg: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels is None or isinstance(in_channels, int) or len(in_channels) == 0:
            raise ValueError(f'in_channels must be a non-empty list of ints, got {in_channels!r} '
                             '(inside GuidedEncoderDecoder it defaults to decode_head.in_channels)')
        self.in_channels = [int(c) for c in in_channels]
        num_levels = len(self.in_channels)
        if in_index is None:
            in_index = list(range(1, num_levels))
        if isinstance(in_index, int):
            in_index = [in_index]
        self.in_index = [self._check_level(i, 'in_index') for i in in_index]
        if len(set(self.in_index)) != len(self.in_index):
            raise ValueError(f'in_index has duplicates: {list(in_index)}')
        if output_stride is not None and int(output_stride) <= 0:
            raise ValueError(f'output_stride must be a positive int, got {output_stride}')
        self.output_stride = None if output_stride is None else int(output_stride)
        self.image_channels = int(image_channels)

        if guidance == 'image':
            guidance_channels = self.image_channels
        elif guidance is None:
            guidance_channels = self.image_channels
        elif isinstance(guidance, int) and not isinstance(guidance, bool):
            guidance = self._check_level(guidance, 'guidance')
            if guidance in self.in_index:
                raise ValueError(f'guidance level {guidance} is also upsampled (in_index='
                                 f'{self.in_index}); guide by a level the neck leaves unchanged')
            guidance_channels = self.in_channels[guidance]
        else:
            raise ValueError(f"guidance must be 'image', a level index or None, got {guidance!r}")
        self.guidance = guidance

        if scale_factors is not None and len(scale_factors) != len(self.in_index):
            raise ValueError(f'scale_factors needs one ratio per in_index level '
                             f'({len(self.in_index)}), got {list(scale_factors)}')
        if strides is None:
            strides = [4 * 2**level for level in range(num_levels)]
        if len(strides) != num_levels or min(int(s) for s in strides) <= 0:
            raise ValueError(f'strides needs one positive stride per level ({num_levels}), '
                             f'got {list(strides)}')
        self.strides = [int(s) for s in strides]
        upsampler = dict(type='JBUStack') if upsampler is None else upsampler
        if scale_factors is None and self._fixed_ratio(upsampler):
            scale_factors = self.level_ratios()
        self.upsampler_cfg = upsampler
        self.upsamplers = nn.ModuleList()
        for position, level in enumerate(self.in_index):
            extra = {} if scale_factors is None else dict(scale_factor=scale_factors[position])
            module = build_upsampler(upsampler, in_channels=self.in_channels[level],
                                     guidance_channels=guidance_channels, **extra)
            out_channels = getattr(module, 'out_channels', self.in_channels[level])
            if out_channels != self.in_channels[level]:
                raise ValueError(f'upsampler {upsampler.get("type")!r} changes the channels of '
                                 f'level {level} ({self.in_channels[level]} -> {out_channels}); '
                                 'the decode head expects them unchanged')
            if getattr(module, 'requires_guidance', False) and self.guidance is None:
                raise ValueError(f'upsampler {upsampler.get("type")!r} requires guidance '
                                 f"({module.guidance_type}); set guidance='image' or a level index")
            self.upsamplers.append(module)

    @staticmethod
    def _fixed_ratio(upsampler: Any) -> bool:
        """Whether ``upsampler`` (a config or module) is bound to one ratio and sets none."""
        if isinstance(upsampler, nn.Module) or 'scale_factor' in upsampler:
            return False
        cls = upsampler['type']
        cls = cls if isinstance(cls, type) else UPSAMPLERS.get(cls)
        return bool(getattr(cls, 'fixed_ratio', False))

    def level_ratios(self) -> List[int]:
        """The integer upsampling ratio of every ``in_index`` level (from ``strides``)."""
        grid = self.output_stride or min(self.strides)
        ratios = []
        for level in self.in_index:
            ratio = self.strides[level] / grid
            if ratio != int(ratio) or ratio < 1:
                raise ValueError(
                    f'level {level} (stride {self.strides[level]}) is not an integer multiple of '
                    f'the output grid stride {grid}; a fixed-ratio upsampler cannot map it '
                    '(set strides or scale_factors, or use an any-size upsampler)')
            ratios.append(int(ratio))
        return ratios

    @property
    def needs_image(self) -> bool:
        """Whether :meth:`forward` needs the input image."""
        return self.guidance == 'image' or self.output_stride is not None

    def _check_level(self, index: int, name: str) -> int:
        num_levels = len(self.in_channels)
        if not isinstance(index, int) or isinstance(index, bool):
            raise ValueError(f'{name} must hold ints, got {index!r}')
        if not -num_levels <= index < num_levels:
            raise ValueError(f'{name}={index} is out of range for {num_levels} backbone levels '
                             f'(in_channels={self.in_channels})')
        return index % num_levels

    def output_size(self, inputs: Sequence[Tensor], image: Optional[Tensor]) -> Size:
        """The grid every selected level is upsampled to."""
        if self.output_stride is not None:
            stride = self.output_stride
            return (math.ceil(image.shape[-2] / stride), math.ceil(image.shape[-1] / stride))
        finest = max(inputs, key=lambda t: t.shape[-2] * t.shape[-1])
        return (int(finest.shape[-2]), int(finest.shape[-1]))

    def check_inputs(self, inputs: Sequence[Tensor], image: Optional[Tensor]) -> None:
        """Raise a clear ValueError for inputs that do not match the config."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'FeatUpNeck got {len(inputs)} feature levels, in_channels lists '
                             f'{len(self.in_channels)}: {self.in_channels}')
        for level, (feature, channels) in enumerate(zip(inputs, self.in_channels)):
            if feature.dim() != 4 or feature.shape[1] != channels:
                raise ValueError(f'FeatUpNeck: level {level} has shape {tuple(feature.shape)}, '
                                 f'in_channels[{level}]={channels}')
        if image is None and self.needs_image:
            raise ValueError(
                "FeatUpNeck needs the input image (guidance='image' or output_stride set) but "
                "got none: use model type='GuidedEncoderDecoder' (mmfeatup), which calls "
                'neck(features, image)')
        if image is not None and (image.dim() != 4 or image.shape[1] != self.image_channels):
            raise ValueError(f'FeatUpNeck: image must be [B, {self.image_channels}, H, W], '
                             f'got {tuple(image.shape)}')

    def forward(self, inputs: Sequence[Tensor],
                image: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Upsample the selected levels.

        Args:
            inputs (Sequence[Tensor]): backbone levels ``[B, C_i, h_i, w_i]``.
            image (Tensor, optional): the (normalised) input image ``[B, 3, H, W]``.

        Returns:
            tuple[Tensor]: the levels, selected ones at :meth:`output_size`.
        """
        self.check_inputs(inputs, image)
        size = self.output_size(inputs, image)
        guidance = image if self.guidance in ('image', None) else inputs[self.guidance]
        outs: List[Tensor] = list(inputs)
        for level, module in zip(self.in_index, self.upsamplers):
            source = inputs[level]
            if source.shape[-2] > size[0] or source.shape[-1] > size[1]:
                raise ValueError(f'FeatUpNeck: level {level} ({tuple(source.shape[-2:])}) is '
                                 f'finer than the output grid {size}; lower output_stride or '
                                 'drop it from in_index')
            outs[level] = module(source, guidance, output_size=size)
        return tuple(outs)

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, in_index={self.in_index}, strides={self.strides}, '
                f'guidance={self.guidance!r}, output_stride={self.output_stride}')
