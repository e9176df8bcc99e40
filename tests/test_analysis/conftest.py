"""Fixtures of the analysis tests: the compiled ops, clean mmengine handle tables, tools.

Set ``MMFEATUP_REQUIRE_EXT=1`` (CI) to turn the skip of an unbuilt extension into a failure.
"""
import importlib.util
import os
import os.path as osp
from types import ModuleType
from typing import Callable, Dict, Iterator

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


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
    import torch
    return torch.ops.mmfeatup


@pytest.fixture
def default_tables(monkeypatch) -> Iterator[Dict[str, dict]]:
    """mmengine's default FLOP / activation tables without any ``mmfeatup::`` entry.

    Copies replace the module-level dicts for the test (so whether something
    registered the handles earlier in this process does not matter, and what
    the test registers does not leak).
    """
    from mmengine.analysis import complexity_analysis
    tables = {}
    for attr in ('_DEFAULT_SUPPORTED_FLOP_OPS', '_DEFAULT_SUPPORTED_ACT_OPS'):
        clean = {k: v for k, v in getattr(complexity_analysis, attr).items()
                 if 'mmfeatup::' not in k}
        monkeypatch.setattr(complexity_analysis, attr, clean)
        tables[attr] = clean
    yield tables


@pytest.fixture(scope='session')
def load_tool() -> Callable[[str], ModuleType]:
    """Import ``tools/<relpath>`` as a module (tools are scripts, not a package)."""

    def _load(relpath: str) -> ModuleType:
        path = osp.join(REPO, 'tools', relpath)
        name = 'analysis_test_' + osp.splitext(osp.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return _load
