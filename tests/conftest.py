"""Shared pytest set-up: CUDA tests skip (visibly) where no GPU exists; fixtures used across
the tree (the compiled ops, the tools as modules, a real photograph).

Set ``MMFEATUP_REQUIRE_EXT=1`` (CI) to turn the skip of an unbuilt extension into a failure.
"""
import importlib.util
import os
import os.path as osp
from types import ModuleType
from typing import Callable

import pytest
import torch

TOOLS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools')


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_cuda = pytest.mark.skip(reason='needs a CUDA GPU; none on this machine')
    for item in items:
        if 'cuda' in item.keywords:
            item.add_marker(skip_cuda)


@pytest.fixture
def astronaut01() -> torch.Tensor:
    """A real photograph (skimage's astronaut), RGB in [0, 1], [1, 3, 512, 512]."""
    from skimage import data
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 255.0
    return image.unsqueeze(0)


@pytest.fixture
def compiled_ops():
    """``torch.ops.mmfeatup`` (skips, or fails under ``MMFEATUP_REQUIRE_EXT=1``, when unbuilt)."""
    from mmfeatup.ops import loader
    if loader.extension() is False:
        message = ('mmfeatup._ext is not built (python setup.py build_ext --inplace) or '
                   'MMFEATUP_OPS_BACKEND=reference')
        if os.environ.get('MMFEATUP_REQUIRE_EXT') == '1':
            pytest.fail(message)
        pytest.skip(message)
    return torch.ops.mmfeatup


@pytest.fixture(scope='session')
def load_tool() -> Callable[[str], ModuleType]:
    """``load_tool('analysis_tools/benchmark_upsamplers.py')`` -> the script under ``tools/``
    as a module (tools are scripts, not a package)."""

    def _load(relpath: str) -> ModuleType:
        path = osp.join(TOOLS, relpath)
        spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return _load


@pytest.fixture(scope='session')
def fresh_python() -> Callable[..., str]:
    """``fresh_python(code)`` runs ``code`` in a new interpreter (a clean import state), fails
    the test with its stderr unless it exits 0, and returns its stdout."""
    import subprocess
    import sys

    def _run(code: str, **kwargs) -> str:
        out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                             **kwargs)
        assert out.returncode == 0, out.stderr
        return out.stdout

    return _run


@pytest.fixture(scope='session')
def gradcheck_upsampler() -> Callable[..., bool]:
    """``gradcheck_upsampler(model, channels)``: float64 ``gradcheck`` of ``model(source,
    guidance, output_size=(3, 5))`` in both inputs (source ``[1, C, 2, 3]``, image
    ``[1, 3, 3, 5]``); the model is switched to float64 and eval mode."""

    def _check(model, channels: int, seed: int = 0) -> bool:
        gen = torch.Generator().manual_seed(seed)
        model = model.double().eval()
        source = torch.randn(1, channels, 2, 3, dtype=torch.float64, generator=gen,
                             requires_grad=True)
        guidance = torch.rand(1, 3, 3, 5, dtype=torch.float64, generator=gen,
                              requires_grad=True)
        return torch.autograd.gradcheck(lambda s, g: model(s, g, output_size=(3, 5)),
                                        (source, guidance), eps=1e-6, atol=1e-5, fast_mode=True)

    return _check


@pytest.fixture(scope='session')
def random_state() -> Callable[..., dict]:
    """``random_state({key: shape})``: a seeded state dict of standard-normal tensors (what an
    official implementation's checkpoint looks like, for strict-loading tests)."""

    def _make(shapes: dict, seed: int = 0) -> dict:
        gen = torch.Generator().manual_seed(seed)
        return {key: torch.randn(shape, generator=gen) for key, shape in shapes.items()}

    return _make


@pytest.fixture(scope='session')
def official_cross_decode_shapes() -> Callable[..., dict]:
    """``official_cross_decode_shapes(qk, vdim=None)``: key -> shape of the JAFAR/AnyUp
    authors' ``cross_decode`` block (an ``nn.MultiheadAttention`` with packed or separate
    projections, RMS norms of queries and keys, the 3x3 query conv)."""
    from torch import nn

    def _shapes(qk: int, vdim=None) -> dict:
        mha = nn.MultiheadAttention(qk, 4, vdim=vdim, batch_first=True)
        shapes = {f'cross_decode.cross_attn.attention.{key}': tuple(value.shape)
                  for key, value in mha.state_dict().items()}
        shapes['cross_decode.cross_attn.norm_q.weight'] = (qk, )
        shapes['cross_decode.cross_attn.norm_k.weight'] = (qk, )
        if vdim is not None:
            shapes['cross_decode.cross_attn.norm_v.weight'] = (vdim, )
        shapes['cross_decode.conv2d.weight'] = (qk, qk, 3, 3)
        return shapes

    return _shapes
