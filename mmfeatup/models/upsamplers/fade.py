"""FADE: Fusing the Assets of Decoder and Encoder for task-agnostic upsampling.

Lu et al., ECCV 2022; extended in IJCV 2024 ("FADE: A Task-Agnostic Upsampling
Operator for Encoder-Decoder Architectures").

Parity with the authors' code (github.com/poppinace/fade, ``FADE_L2H.py`` and its
pure-PyTorch twin ``pytorch_implementation/FADE_L2H.py``, the file their SegFormer
head imports): one class covers their three modules,

=========================  ======================  ===============================
official module            here                    kernel generator
=========================  ======================  ===============================
``FADE``                   ``FADE`` (gate on)       ``SemiShift`` (dense 3x3, 64-d)
``FADELite``               ``FADELite`` (gate on)   ``SemiShiftDepthWise`` (k_up^2-d)
``SemiShiftUp``            ``FADE`` with gate off   ``SemiShift``
=========================  ======================  ===============================

Their state dicts load after :func:`convert_official_fade_state_dict`; the golden
test ``tests/test_models/test_upsamplers/test_parity_sapa_fade.py`` checks outputs.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from mmfeatup.utils.checkpoint_keys import rename_keys
from mmfeatup.models.layers.windows import nearest_source_index, reassemble
from .base import BaseUpsampler, Size, check_odd, resize_guidance

#: official FADE / FADELite / SemiShiftUp modules and parameters -> ours (same shapes).
_OFFICIAL_RENAMES = (
    ('gate_generator.conv.', 'gate.'),
    ('ker_generator.compressor_en.', 'compress_guidance.'),
    ('ker_generator.compressor_de.', 'compress_source.'),
    ('ker_generator.content_encoder.weight', 'kernel_weight'),
    ('ker_generator.content_encoder.bias', 'kernel_bias'),
)


def convert_official_fade_state_dict(state_dict: Mapping[str, Tensor],
                                     prefix: str = '') -> Dict[str, Tensor]:
    """The authors' ``FADE``/``FADELite``/``SemiShiftUp`` state dict as ours.

    Only renames (shapes are identical). A state dict without ``gate_generator.*``
    (``SemiShiftUp``) loads into a gate-off :class:`FADEUpsampler`. Whether it is
    FADE or FADE-Lite shows in ``content_encoder.weight``'s shape
    (``[k^2, 64, 3, 3]`` vs ``[k^2, 1, 3, 3]``): build ours accordingly.

    Args:
        state_dict (Mapping[str, Tensor]): the official keys (after ``prefix``);
            other keys are ignored only when ``prefix`` is given.
        prefix (str): prefix of the FADE keys (e.g. ``'decode_head.upsamplers.0.'``).
            Default: ``''``.

    Returns:
        dict: loads into ``FADEUpsampler(...).load_state_dict(..., strict=True)``.

    Raises:
        KeyError: a kernel-generator key is missing, or (without ``prefix``) a key
            is unknown.
    """
    # the gate is absent in SemiShiftUp; the kernel generator is always there
    required = ('ker_generator.compressor_en.weight', 'ker_generator.compressor_en.bias',
                'ker_generator.compressor_de.weight', 'ker_generator.content_encoder.weight',
                'ker_generator.content_encoder.bias')
    return rename_keys(state_dict, _OFFICIAL_RENAMES, prefix, 'FADE', required)


def nearest_to(low: Tensor, size: Size) -> Tensor:
    """Copy each source cell to the output pixels it contains (any ratio)."""
    rows = nearest_source_index(size[0], low.shape[-2], low.device)
    cols = nearest_source_index(size[1], low.shape[-1], low.device)
    return low.index_select(2, rows).index_select(3, cols)


@UPSAMPLERS.register_module(name='FADE')
class FADEUpsampler(BaseUpsampler):
    """FADE: semi-shift kernel generation + CARAFE reassembly + decoder-driven gate.

    * Kernel logits (semi-shift convolution): both maps are compressed by 1x1
      convs (the source's without bias), then ONE shared ``3x3`` conv (weights +
      bias, zero padding) is applied to the encoder map at the output resolution
      and to the decoder map at its own resolution; the latter is copied to every
      output point of its cell and the two are added. (The paper's semi-shift
      window over the interleaved encoder/decoder points is exactly this sum.)
      Softmax over ``k_up^2`` taps. ``lite=True`` (FADE-Lite): the compressors
      output ``k_up^2`` channels and the shared conv is depthwise
      (``groups=k_up^2``, the official ``SemiShiftDepthWise``).
    * Reassembly of the decoder (source) map, :func:`reassemble`.
    * Gate ``g = sigmoid(Conv1x1(C -> 1)(source))`` copied to the output grid;
      ``out = g * guidance + (1 - g) * reassembled``. The gate needs guidance with
      the source's channels: it is on when ``guidance_channels == in_channels``
      (``gate='auto'``) and off otherwise (e.g. image guidance, FeatUp's setting:
      an RGB image can't be blended into features). FADE with the gate off is the
      authors' ``SemiShiftUp`` (semi-shift kernels + reassembly only), not their
      FADE-Lite, which keeps the gate (use ``lite=True``).

    Init (official): xavier-uniform weights and zero biases for every conv
    (compressors, the shared kernel conv, the gate).

    Guidance: a finer feature map (the encoder feature) or the image
    (``guidance_channels=3``); it is area-resized to the output size; any output
    size works (the official modules: x2 only, where both agree).

    Official weights: ``load_state_dict(convert_official_fade_state_dict(sd))``.

    Args:
        in_channels (int): source (decoder) channels ``C`` (kept; official
            ``in_channels_de``).
        guidance_channels (int): guidance (encoder) channels (official
            ``in_channels_en``). Default: 3.
        scale_factor (float, optional): ratio when ``output_size`` is not given.
        up_kernel (int): reassembly window ``k_up``. Default: 5.
        embedding_dim (int, optional): compressed channels. Default: None (64;
            ``k_up^2`` with ``lite=True``, the only value FADE-Lite allows).
        gate (bool | str): ``'auto'``, True or False. Default: ``'auto'``.
        lite (bool): FADE-Lite's depthwise kernel generator. Default: False.
    """

    guidance_type = 'feature'
    requires_guidance = True

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, up_kernel: int = 5,
                 embedding_dim: Optional[int] = None, gate='auto', lite: bool = False) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        up_kernel = check_odd('up_kernel', up_kernel)
        taps = up_kernel * up_kernel
        if embedding_dim is None:
            embedding_dim = taps if lite else 64
        elif lite and embedding_dim != taps:
            raise ValueError(f'lite=True (FADE-Lite) compresses to up_kernel**2 = {taps} '
                             f'channels, got embedding_dim={embedding_dim}')
        if gate == 'auto':
            gate = guidance_channels == in_channels
        elif gate not in (True, False):
            raise ValueError(f"gate must be 'auto', True or False, got {gate!r}")
        if gate and guidance_channels != in_channels:
            raise ValueError(f'gate=True needs guidance_channels == in_channels, got '
                             f'{guidance_channels} and {in_channels}')
        self.up_kernel = up_kernel
        self.lite = bool(lite)
        self.compress_guidance = nn.Conv2d(guidance_channels, embedding_dim, 1)
        self.compress_source = nn.Conv2d(in_channels, embedding_dim, 1, bias=False)
        self.kernel_weight = nn.Parameter(
            torch.empty(taps, 1 if lite else embedding_dim, 3, 3))
        self.kernel_bias = nn.Parameter(torch.zeros(taps))
        self.gate = nn.Conv2d(in_channels, 1, 1) if gate else None
        self.init_weights()

    def init_weights(self) -> None:
        """The official init: xavier-uniform weights, zero biases (mmcv ``xavier_init``)."""
        for weight in (self.compress_guidance.weight, self.compress_source.weight,
                       self.kernel_weight):
            nn.init.xavier_uniform_(weight)
        nn.init.zeros_(self.compress_guidance.bias)
        nn.init.zeros_(self.kernel_bias)
        if self.gate is not None:
            nn.init.xavier_uniform_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)

    def kernel_logits(self, source: Tensor, guidance: Tensor) -> Tensor:
        """Semi-shift logits ``[B, k_up^2, H, W]`` (guidance already at the output size)."""
        groups = self.kernel_weight.shape[0] if self.lite else 1
        fine = F.conv2d(self.compress_guidance(guidance), self.kernel_weight, self.kernel_bias,
                        padding=1, groups=groups)
        coarse = F.conv2d(self.compress_source(source), self.kernel_weight, self.kernel_bias,
                          padding=1, groups=groups)
        return fine + nearest_to(coarse, guidance.shape[-2:])

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        guidance = resize_guidance(guidance, size, mode='area')
        kernels = self.kernel_logits(source, guidance).softmax(dim=1)
        out = reassemble(source, kernels, self.up_kernel)
        if self.gate is None:
            return out
        gate = torch.sigmoid(nearest_to(self.gate(source), size))
        return gate * guidance + (1 - gate) * out

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, up_kernel={self.up_kernel}, lite={self.lite}, '
                f'gate={self.gate is not None}')


@UPSAMPLERS.register_module(name='FADELite')
class FADELiteUpsampler(FADEUpsampler):
    """FADE-Lite (official ``FADELite``): :class:`FADEUpsampler` with ``lite=True``.

    The gate is kept (``gate='auto'``: on for feature guidance with the source's
    channels); the kernel generator is the depthwise semi-shift conv.
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, up_kernel: int = 5,
                 embedding_dim: Optional[int] = None, gate='auto') -> None:
        super().__init__(in_channels, guidance_channels, scale_factor, up_kernel=up_kernel,
                         embedding_dim=embedding_dim, gate=gate, lite=True)
