"""Loading of the compiled extension ``mmfeatup._ext`` and backend selection.

``import mmfeatup.ops`` resolves the backend: it imports ``mmfeatup._ext``, which
registers the ``torch.ops.mmfeatup`` library (schemas, CPU/CUDA kernels, autograd), and
registers the fake kernels from Python (:mod:`mmfeatup.ops.library`). If the extension
cannot be imported, the ops fall back to the pure-PyTorch reference with one warning per
process.

Set ``MMFEATUP_OPS_BACKEND=reference`` (read when the backend is resolved) to force the
reference implementation, e.g. for benchmarks or tests; the library is still loaded
(silently, if it can be) so that ``torch.ops.mmfeatup`` exists.
"""
from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType
from typing import Optional

ENV_BACKEND = 'MMFEATUP_OPS_BACKEND'

# Resolved state: None until the first use, then the extension module (compiled
# backend) or False (reference backend).
_EXTENSION: Optional[object] = None
_WARNED = False


def _import_extension() -> ModuleType:
    """Import ``mmfeatup._ext`` (a separate function so tests can simulate its absence)."""
    return importlib.import_module('mmfeatup._ext')


def _resolve() -> object:
    global _EXTENSION, _WARNED
    forced_reference = os.environ.get(ENV_BACKEND, '').strip().lower() == 'reference'
    try:
        extension = _import_extension()
    except ImportError as error:
        if not _WARNED and not forced_reference:
            warnings.warn(
                'mmfeatup.ops: the compiled extension mmfeatup._ext is not available '
                f'({error}); falling back to the pure-PyTorch reference ops (slower, more '
                'memory). Build it with `python setup.py build_ext --inplace` or '
                '`pip install --no-build-isolation -e .`.',
                RuntimeWarning,
                stacklevel=3)
            _WARNED = True
        _EXTENSION = False
        return _EXTENSION
    from .library import register_python_parts
    register_python_parts()
    _EXTENSION = False if forced_reference else extension
    return _EXTENSION


def extension() -> object:
    """The loaded extension module, or ``False`` when the reference backend is live."""
    if _EXTENSION is None:
        return _resolve()
    return _EXTENSION


def load_extension() -> bool:
    """Resolve the backend now (import the extension if possible).

    Returns:
        bool: whether the compiled ops are live.
    """
    return extension() is not False


def use_compiled(device_type: str) -> bool:
    """Whether the compiled kernels serve tensors of ``device_type`` ('cpu', 'cuda', ...)."""
    ext = extension()
    if ext is False:
        return False
    if device_type == 'cpu':
        return True
    return device_type == 'cuda' and bool(getattr(ext, 'with_cuda', 0))


def backend() -> str:
    """Which implementation of the ops is live.

    Returns:
        str: ``'compiled (cpu)'`` or ``'compiled (cpu, cuda)'`` (the device kernels the
        extension was built with; other devices use the reference), or ``'reference'``.
        Test for the compiled path with ``backend().startswith('compiled')``.
    """
    ext = extension()
    if ext is False:
        return 'reference'
    return 'compiled (cpu, cuda)' if getattr(ext, 'with_cuda', 0) else 'compiled (cpu)'


def reset() -> None:
    """Forget the resolved backend (tests only: the next use resolves it again)."""
    global _EXTENSION, _WARNED
    _EXTENSION = None
    _WARNED = False
