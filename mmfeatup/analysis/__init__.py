"""Complexity analysis of mmfeatup models with mmengine's ``FlopAnalyzer``.

Importing this package has no side effects: :func:`register_flop_handles` adds
the handles of the ``torch.ops.mmfeatup`` ops to mmengine's default tables when
called (``mmfeatup.compat.install()`` calls it).
"""
from .flop_handles import (OP_FLOP_HANDLES, UNTRACED_OPS, activation_handle_table,
                           adaptive_conv_flop_jit, flop_handle_table, jbu_upsample_flop_jit,
                           output_activation_jit, range_kernel_flop_jit, register_flop_handles,
                           value_shape)

__all__ = [
    'OP_FLOP_HANDLES', 'UNTRACED_OPS', 'activation_handle_table', 'adaptive_conv_flop_jit',
    'flop_handle_table', 'jbu_upsample_flop_jit', 'output_activation_jit',
    'range_kernel_flop_jit', 'register_flop_handles', 'value_shape'
]
