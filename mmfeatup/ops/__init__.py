"""Public op API (TEMPORARY: reference-only until the compiled ops land)."""
from .reference import (adaptive_conv_reference as adaptive_conv,
                        jbu_upsample_reference as jbu_upsample,
                        range_kernel_reference as range_kernel)


def backend() -> str:
    return 'reference'


__all__ = ['adaptive_conv', 'range_kernel', 'jbu_upsample', 'backend']
