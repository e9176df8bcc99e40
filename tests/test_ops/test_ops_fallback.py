"""Backend selection: lazy loading, the reference fallback (one warning) and forcing it."""
import os
import subprocess
import sys
import warnings

import pytest
import torch

from mmfeatup.ops import (adaptive_conv, backend, bicubic_adaptive_conv, jbu_upsample, loader,
                          range_kernel)
from mmfeatup.ops.reference import (adaptive_conv_reference, bicubic_adaptive_conv_reference,
                                    jbu_upsample_reference, range_kernel_reference)


@pytest.fixture
def fresh_loader():
    loader.reset()
    yield loader
    loader.reset()


def _missing_extension():
    raise ImportError('No module named mmfeatup._ext (simulated)')


def _call_all():
    gen = torch.Generator().manual_seed(0)
    keys = torch.randn(2, 3, 5, 6, generator=gen, dtype=torch.float64)
    source = torch.randn(2, 4, 7, 8, generator=gen, dtype=torch.float64)
    tau, sigma = torch.tensor(0.9, dtype=torch.float64), torch.tensor(1.1, dtype=torch.float64)
    kernel = range_kernel(keys, tau, 1)
    torch.testing.assert_close(kernel, range_kernel_reference(keys, tau, 1))
    torch.testing.assert_close(adaptive_conv(source, kernel),
                               adaptive_conv_reference(source, kernel))
    torch.testing.assert_close(jbu_upsample(source, keys, tau, sigma, 1),
                               jbu_upsample_reference(source, keys, tau, sigma, 1))
    low = source[:, :, :3, :4]
    torch.testing.assert_close(bicubic_adaptive_conv(low, kernel),
                               bicubic_adaptive_conv_reference(low, kernel))


def test_missing_extension_warns_once_and_falls_back(fresh_loader, monkeypatch):
    monkeypatch.setattr(fresh_loader, '_import_extension', _missing_extension)
    monkeypatch.delenv(loader.ENV_BACKEND, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        _call_all()
        _call_all()
        assert backend() == 'reference'
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1, messages
    assert 'falling back to the pure-PyTorch reference' in messages[0]
    assert 'simulated' in messages[0]


def test_forced_reference_backend_is_silent(fresh_loader, monkeypatch):
    monkeypatch.setenv(loader.ENV_BACKEND, 'reference')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert backend() == 'reference'
        _call_all()


def test_compiled_backend_reported(compiled_ops):
    assert backend().startswith('compiled (cpu')


def test_import_registers_the_ops():
    """``import mmfeatup.ops`` alone loads the library: torch.ops.mmfeatup.* exist (with
    their fake kernels), and the import draws no random numbers."""
    code = ('import sys, torch; seed = torch.initial_seed(); import mmfeatup.ops as ops; '
            'assert torch.initial_seed() == seed; '
            'assert ops.backend() == "reference" or ("mmfeatup._ext" in sys.modules and all('
            'hasattr(torch.ops.mmfeatup, n) for n in ("adaptive_conv", "range_kernel", '
            '"jbu_upsample", "jbu_upsample_backward", "bicubic_adaptive_conv"))); '
            'print(ops.backend())')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in ('reference', 'compiled (cpu)', 'compiled (cpu, cuda)')


def test_forced_reference_still_registers_the_ops(compiled_ops):
    """MMFEATUP_OPS_BACKEND=reference: the public ops use the reference, and the library is
    still loaded (torch.ops.mmfeatup.* exist) without a warning."""
    code = ('import warnings; warnings.simplefilter("error"); import torch, mmfeatup.ops as ops; '
            'assert ops.backend() == "reference"; torch.ops.mmfeatup.adaptive_conv; '
            'print("ok")')
    env = dict(os.environ, MMFEATUP_OPS_BACKEND='reference')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'ok'
