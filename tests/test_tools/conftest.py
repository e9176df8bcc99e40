"""Shared set-up of the tool tests: load a script under ``tools/`` as a module."""
import importlib.util
import os.path as osp
from types import ModuleType
from typing import Callable

import pytest

TOOLS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools')


def _load_tool(relpath: str) -> ModuleType:
    """Import ``tools/<relpath>`` (tools are scripts, not a package)."""
    path = osp.join(TOOLS, relpath)
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def load_tool() -> Callable[[str], ModuleType]:
    """``load_tool('analysis_tools/benchmark_upsamplers.py')`` -> the script as a module."""
    return _load_tool
