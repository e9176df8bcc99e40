"""FeatUp's learned Joint Bilateral Upsampler (JBU), at any output size.

One stage is :class:`~mmfeatup.models.upsamplers.jbu_stage.JBULearnedRange`.
:class:`JBUStack` (docs/design.md section 1) chains stages. The authors' stack is four x2
stages (x16); here stages of exactly x2 are taken while the next x2 does not
overshoot the target, then one final stage reaches the exact target size
(:func:`plan_stage_sizes`), so any output size works (non-square, x14, x8,
x16.7, ratios below 2). Parameter names equal the authors', so their released
state dicts load unchanged into ``JBUStack(feat_dim)``.
"""
from __future__ import annotations

from typing import ClassVar, List, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from mmfeatup.utils.featup_checkpoint import load_jbu_weights
from .base import BaseUpsampler, Size, resize_guidance
from .jbu_stage import JBULearnedRange

def plan_stage_sizes(source_size: Sequence[int], output_size: Sequence[int]) -> List[Size]:
    """Output sizes of the JBU stages that take ``source_size`` to ``output_size``.

    Stages double both sides while doubling overshoots neither side of the
    target; then, if the target is not reached yet (or no stage was planned),
    one final stage goes straight to ``output_size``.

    Args:
        source_size (Sequence[int]): ``(h, w)`` of the source features.
        output_size (Sequence[int]): ``(H, W)``, not smaller than ``source_size``.

    Returns:
        list[tuple[int, int]]: one ``(height, width)`` per stage, the last one
        equal to ``output_size``.

    Examples:
        >>> plan_stage_sizes((14, 14), (224, 224))
        [(28, 28), (56, 56), (112, 112), (224, 224)]
        >>> plan_stage_sizes((16, 16), (224, 224))
        [(32, 32), (64, 64), (128, 128), (224, 224)]
    """
    height, width = (int(s) for s in source_size)
    target = (int(output_size[0]), int(output_size[1]))
    if target[0] < height or target[1] < width:
        raise ValueError(f'output_size {target} is smaller than the source size '
                         f'{(height, width)}; JBU only upsamples')
    sizes: List[Size] = []
    while 2 * height <= target[0] and 2 * width <= target[1]:
        height, width = 2 * height, 2 * width
        sizes.append((height, width))
    if not sizes or sizes[-1] != target:
        sizes.append(target)
    return sizes


@UPSAMPLERS.register_module(name='JBUStack')
class JBUStack(BaseUpsampler):
    """FeatUp's JBU upsampler: a stack of :class:`JBULearnedRange` stages.

    ``JBUStack(feat_dim)(source, image)`` with the defaults computes the
    authors' x16 JBUStack; ``load_state_dict`` accepts their released state
    dicts (keys ``up1..up4.*`` and ``fixup_proj.1.*``; whole Lightning
    checkpoints go through ``tools/model_converters/featup_to_mmfeatup.py``).

    Output size: ``output_size`` per call, else ``scale_factor`` x the source
    size, else (``scale_factor=None``) the image size. Stages follow
    :func:`plan_stage_sizes`; stage ``i`` (0-based) uses module ``up{i+1}``.
    A target that needs more than ``num_stages`` stages (x32, or x17, needs
    five) is an error naming the fix (``num_stages=5``, or weights trained for
    that stride), unless ``reuse_last_stage=True`` shares ``up{num_stages}``
    for the extra steps: trained weights would then run at ratios they were
    not trained for, which measures worse than bilinear x2 after the trained
    stages (docs/benchmarks.md), so it is never done silently. Targets
    needing fewer stages use the first ones. Each stage's guidance is the image average-pooled to
    that stage's output size (``adaptive_avg_pool2d``, as the authors; where a
    stage is larger than the image, the image is resized bilinearly instead).
    The image must not be smaller than the feature map. The result gets the
    final residual
    ``x + 0.1 * Conv1x1(Dropout2d(0.2)(x))``. Dropout makes ``eval()``
    mandatory at inference.

    Args:
        feat_dim (int, optional): channels ``C`` of the features. Either this
            or ``in_channels`` (what :func:`build_upsampler` passes).
        guidance_channels (int): channels of the guidance image. Default: 3.
        scale_factor (float, optional): default ratio. Default: 16.
        key_dim (int): range-key channels. Default: 32.
        radius (int): filter radius of every stage. Default: 3.
        num_stages (int): stage modules ``up1..upN`` to create. Default: 4
            (the authors' layout).
        in_channels (int, optional): alias of ``feat_dim``.
        reuse_last_stage (bool): run ``up{num_stages}`` again for targets that
            need more stages. Default: False (an error).
        checkpoint (str, optional): weights of a trained JBU (e.g. the
            ``upsampler.pth`` of ``tools/train_upsampler.py``, or an authors'
            checkpoint) loaded with :func:`mmfeatup.utils.load_jbu_weights`:
            the stages always (their filters depend on the image only, so a
            JBU trained on one feature map serves any channel count), the
            final ``C x C`` residual only when its channels match. This is
            how a FeatUp-pretrained JBU enters a segmentation neck. Default:
            None (the authors' initialisation).
    """

    guidance_type: ClassVar[Optional[str]] = 'image'
    requires_guidance: ClassVar[bool] = True
    #: Whether the stages carry the learned kernel fixup (False in JBUFused).
    stage_fixup: ClassVar[bool] = True

    def __init__(self,
                 feat_dim: Optional[int] = None,
                 guidance_channels: int = 3,
                 scale_factor: Optional[float] = 16,
                 key_dim: int = 32,
                 radius: int = 3,
                 num_stages: int = 4,
                 in_channels: Optional[int] = None,
                 reuse_last_stage: bool = False,
                 checkpoint: Optional[str] = None) -> None:
        if feat_dim is None and in_channels is None:
            raise ValueError(f'{type(self).__name__}: give feat_dim (or in_channels)')
        if feat_dim is not None and in_channels is not None and int(feat_dim) != int(in_channels):
            raise ValueError(f'{type(self).__name__}: feat_dim={feat_dim} and '
                             f'in_channels={in_channels} disagree')
        channels = int(feat_dim if feat_dim is not None else in_channels)
        if scale_factor is not None and scale_factor < 1:
            raise ValueError(f'scale_factor must be >= 1 (JBU only upsamples), got {scale_factor}')
        if int(num_stages) < 1:
            raise ValueError(f'num_stages must be >= 1, got {num_stages}')
        super().__init__(channels, guidance_channels, scale_factor)
        self.key_dim = int(key_dim)
        self.radius = int(radius)
        self.num_stages = int(num_stages)
        self.reuse_last_stage = bool(reuse_last_stage)
        for index in range(self.num_stages):
            self.add_module(
                f'up{index + 1}',
                JBULearnedRange(self.guidance_channels, self.key_dim, self.radius,
                                fixup=self.stage_fixup))
        self.fixup_proj = nn.Sequential(nn.Dropout2d(0.2), nn.Conv2d(channels, channels, 1))
        if checkpoint is not None:
            load_jbu_weights(self, checkpoint)

    def stage(self, index: int) -> JBULearnedRange:
        """The module that runs stage ``index`` (0-based); see ``reuse_last_stage``."""
        return getattr(self, f'up{min(index, self.num_stages - 1) + 1}')

    def stage_sizes(self, source_size: Sequence[int], output_size: Sequence[int]) -> List[Size]:
        """Output size of every stage (:func:`plan_stage_sizes`)."""
        return plan_stage_sizes(source_size, output_size)

    def check_inputs(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> None:
        """Base checks plus: image not smaller than the features, upsampling only,
        and every stage larger than the filter radius (reflect padding)."""
        super().check_inputs(source, guidance, size)
        name = type(self).__name__
        height, width = source.shape[-2:]
        if guidance.shape[-2] < height or guidance.shape[-1] < width:
            raise ValueError(f'{name}: guidance image {tuple(guidance.shape[-2:])} is smaller '
                             f'than the feature map {(height, width)}')
        if size[0] < height or size[1] < width:
            raise ValueError(f'{name}: output_size {tuple(size)} is smaller than the source '
                             f'{(height, width)}; JBU only upsamples')
        plan = self.stage_sizes((height, width), size)
        if len(plan) > self.num_stages and not self.reuse_last_stage:
            raise ValueError(
                f'{name}: output_size {tuple(size)} from {(height, width)} needs {len(plan)} '
                f'stages but the stack has num_stages={self.num_stages}; build it with '
                f'num_stages={len(plan)} (and weights trained for that ratio), or '
                f'reuse_last_stage=True to run up{self.num_stages} again')
        first = plan[0]
        if min(first) <= self.radius:
            raise ValueError(f'{name}: first stage output {first} must exceed the filter '
                             f'radius {self.radius} on both sides; source or output_size '
                             'too small')

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        # Every stage applies one linear map L to each channel alike (its filters depend on
        # the guidance only; bicubic resizing and reflect padding are linear too), so the
        # authors' final residual y + 0.1 * (M drop(y) + b), y = L(source), equals
        # L(source + 0.1 * M drop(source)) + 0.1 * b: the C x C mixing runs at the source
        # resolution (exact, and ~ratio^2 fewer FLOPs: 7.4 of 9.6 GFLOPs at C=384, 14 -> 224).
        # Dropout2d masks whole channels, which commutes with L as well.
        dropout, conv = self.fixup_proj
        out = source + 0.1 * F.conv2d(dropout(source), conv.weight)
        for index, stage_size in enumerate(self.stage_sizes(source.shape[-2:], size)):
            out = self.stage(index)(out, resize_guidance(guidance, stage_size, mode='area'))
        if conv.bias is not None:
            # In place: the last stage's output is not saved for its backward, and a new
            # full-resolution tensor would cost as much as the add itself.
            out = out.add_(0.1 * conv.bias.view(1, -1, 1, 1))
        return out

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, key_dim={self.key_dim}, radius={self.radius}, '
                f'num_stages={self.num_stages}')
