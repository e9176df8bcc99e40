"""Fixtures of the op tests: the compiled backend (skips visibly when unbuilt).

Set ``MMFEATUP_REQUIRE_EXT=1`` (CI) to turn that skip into a failure.
"""
import os

import pytest


@pytest.fixture
def compiled_ops():
    """``torch.ops.mmfeatup`` with the fake kernels and autograd registered."""
    from mmfeatup.ops import loader
    if loader.extension() is False:
        message = ('mmfeatup._ext is not built (python setup.py build_ext --inplace) or '
                   'MMFEATUP_OPS_BACKEND=reference')
        if os.environ.get('MMFEATUP_REQUIRE_EXT') == '1':
            pytest.fail(message)
        pytest.skip(message)
    import torch
    return torch.ops.mmfeatup
