"""The mmfeatup JBU ops (compiled ``torch.ops.mmfeatup`` kernels with a PyTorch fallback).

Importing this package loads the extension ``mmfeatup._ext`` (so ``torch.ops.mmfeatup.*``
exist, with autograd and fake kernels), or warns once and falls back to the reference.
``backend()`` says which implementation is live.
"""
from .functional import adaptive_conv, bicubic_adaptive_conv, jbu_upsample, range_kernel
from .loader import backend, load_extension
from .reference import (adaptive_conv_reference, bicubic_adaptive_conv_reference,
                        jbu_upsample_reference, range_kernel_reference,
                        spatial_kernel_reference)

__all__ = [
    'adaptive_conv', 'bicubic_adaptive_conv', 'range_kernel', 'jbu_upsample', 'backend',
    'load_extension', 'adaptive_conv_reference', 'bicubic_adaptive_conv_reference',
    'range_kernel_reference', 'spatial_kernel_reference', 'jbu_upsample_reference'
]

load_extension()
