"""Feature upsamplers, all registered in :data:`mmfeatup.registry.UPSAMPLERS`.

Each module below registers its classes on import. Keep one concept per file.
"""
from .base import (BaseUpsampler, FixedRatioUpsampler, check_groups, check_odd, design_scale,
                   resize_guidance, to_size)
from .interpolate import BicubicUpsampler, BilinearUpsampler, NearestUpsampler
from .jbu import JBUStack, plan_stage_sizes
from .jbu_stage import JBULearnedRange
from .jbu_fused import JBUFused
from .resize_conv import ResizeConvUpsampler
from .pixel_shuffle import PixelShuffleUpsampler
from .deconv import DeconvUpsampler
from .carafe import CARAFEUpsampler
from .sapa import SAPAUpsampler
from .fade import FADEUpsampler
from .dysample import DySampleUpsampler
from .ifa import IFAUpsampler
from .image_query_attention import ImageQueryAttentionUpsampler
from .jafar import JAFARUpsampler
from .anyup import AnyUpUpsampler
from .loftup import LoftUpUpsampler

__all__ = [
    'ResizeConvUpsampler', 'PixelShuffleUpsampler', 'DeconvUpsampler', 'CARAFEUpsampler',
    'SAPAUpsampler', 'FADEUpsampler', 'DySampleUpsampler', 'IFAUpsampler',
    'JBULearnedRange', 'JBUStack', 'JBUFused', 'plan_stage_sizes',
    'BaseUpsampler', 'FixedRatioUpsampler', 'resize_guidance', 'to_size', 'check_odd',
    'check_groups', 'design_scale',
    'NearestUpsampler', 'BilinearUpsampler', 'BicubicUpsampler',
    'ImageQueryAttentionUpsampler', 'JAFARUpsampler', 'AnyUpUpsampler', 'LoftUpUpsampler',
]
