"""Fixtures of the analysis tests: clean mmengine handle tables (``compiled_ops`` and
``load_tool`` come from tests/conftest.py)."""
from typing import Dict, Iterator

import pytest


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
