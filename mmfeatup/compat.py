"""Every shim between mmfeatup and the stack it pins, installed at one point.

:func:`install` is the single install point. ``mmfeatup.registry`` calls it when
it is first imported, so everything that registers or builds mmfeatup parts
(``custom_imports=dict(imports=['mmfeatup.models'])`` in a config,
``import mmfeatup.models`` / ``mmfeatup.datasets`` / ``mmfeatup.engine`` in a
script) has the shims in place; ``import mmfeatup`` and ``import mmfeatup.ops``
install nothing. :func:`install` is idempotent and does three things:

* ``mmsegmentation==1.2.2`` imports ``mmcv.ops`` unguarded, and ``mmcv-lite``
  ships no compiled ``mmcv._ext``: :func:`ensure_mmcv_ops_importable` registers a
  stub ``mmcv._ext`` whose functions raise ``NotImplementedError``, only when no
  real extension can be found, so a full mmcv is never shadowed.
* ``torch>=2.6`` loads files weights-only, and mmengine checkpoints pickle a
  few non-tensor objects (``HistoryBuffer`` with numpy arrays and scalars, whose
  statistics methods are pickled as ``getattr(HistoryBuffer, 'min')``).
  :func:`allow_mmengine_checkpoints` allow-lists exactly those with torch's
  safe-globals API; ``getattr`` is allowed only on ``HistoryBuffer``'s own
  methods. weights-only loading stays on: a checkpoint whose pickle would call
  anything else is refused by ``torch.load``.
* mmengine's complexity analysis (``get_model_complexity_info``,
  ``FlopAnalyzer``) learns the FLOPs of the ``mmfeatup::`` ops.

The third breakage of the pinned stack, mmengine 0.10.7 needing
``pkg_resources`` to resolve ``mmseg::`` config bases, is fixed by the
requirement ``setuptools<81`` (``requirements/runtime.txt``, ``setup.py``), not
here.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import pickle
import sys
import types
from typing import Any, Callable, List, Tuple, Union

_STUB_NAME = 'mmcv._ext'
_installed = False

SafeGlobal = Union[Callable, Tuple[Callable, str]]


class _MissingMMCVExt(types.ModuleType):
    """Stand-in for ``mmcv._ext``: every attribute is a function that raises."""

    is_mmfeatup_stub = True

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)

        def _unavailable(*args, **kwargs):
            raise NotImplementedError(
                f'mmcv.ops.{name} needs the compiled mmcv (full mmcv); '
                'mmcv-lite is installed. mmfeatup provides its own ops and '
                'pure-PyTorch upsamplers instead.')

        _unavailable.__name__ = name
        return _unavailable


def has_real_mmcv_ext() -> bool:
    """Whether a compiled ``mmcv._ext`` (full mmcv) is importable."""
    module = sys.modules.get(_STUB_NAME)
    if module is not None:
        return not getattr(module, 'is_mmfeatup_stub', False)
    try:
        return importlib.util.find_spec(_STUB_NAME) is not None
    except (ImportError, ValueError):
        return False


def ensure_mmcv_ops_importable() -> bool:
    """Make ``import mmcv.ops`` (and so ``import mmseg.models``) work.

    Returns:
        bool: True if a stub was installed (or already was), False if a real
        ``mmcv._ext`` exists and nothing was changed.
    """
    if has_real_mmcv_ext():
        return False
    if _STUB_NAME not in sys.modules:
        stub = _MissingMMCVExt(_STUB_NAME)
        stub.__spec__ = importlib.machinery.ModuleSpec(_STUB_NAME, None)
        stub.__file__ = None
        sys.modules[_STUB_NAME] = stub
        mmcv = sys.modules.get('mmcv')
        if mmcv is not None:
            setattr(mmcv, '_ext', stub)
    return True


def _history_buffer_method(owner: Any, name: str) -> Any:
    """``getattr`` as mmengine checkpoints use it, and nothing more.

    ``HistoryBuffer`` keeps its statistics methods (``min``, ``max``, ``mean``,
    ``current`` and any registered with ``register_statistics``) in a dict that
    is pickled as ``getattr(HistoryBuffer, NAME)``. Any other owner, or a name
    that is not a plain function of the class, is refused.

    Raises:
        pickle.UnpicklingError: for anything but a ``HistoryBuffer`` method.
    """
    from mmengine.logging import HistoryBuffer

    if owner is HistoryBuffer and isinstance(name, str) and not name.startswith('_'):
        method = HistoryBuffer.__dict__.get(name)
        if isinstance(method, types.FunctionType):
            return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refused getattr({owner!r}, {name!r}) while loading a checkpoint weights-only: only '
        'the statistics methods of mmengine.logging.HistoryBuffer are allowed')


def mmengine_checkpoint_globals() -> List[SafeGlobal]:
    """The non-tensor globals that mmengine checkpoints pickle, for ``add_safe_globals``.

    That is ``HistoryBuffer``, numpy arrays, dtypes and scalars, and ``getattr``
    restricted to ``HistoryBuffer``'s methods. Both numpy spellings are listed (``numpy.core`` in numpy 1.x files,
    ``numpy._core`` in numpy 2.x files), so checkpoints saved with either load.

    Returns:
        list: callables and ``(callable, 'module.qualname')`` pairs.
    """
    import numpy as np
    from mmengine.logging import HistoryBuffer

    try:
        multiarray = np._core.multiarray
    except AttributeError:  # numpy 1.x
        multiarray = np.core.multiarray
    entries: List[SafeGlobal] = [HistoryBuffer, np.ndarray, np.dtype,
                                 (_history_buffer_method, 'builtins.getattr')]
    # the numeric dtype classes (numpy.dtypes.Float64DType, ...): a pickled dtype's state is
    # set on an instance of one of them (object, string and void dtypes are not allowed)
    codes = '?' + np.typecodes['AllInteger'] + np.typecodes['AllFloat']
    entries += sorted({type(np.dtype(code)) for code in codes}, key=repr)
    for core in ('numpy.core', 'numpy._core'):
        entries.append((multiarray.scalar, f'{core}.multiarray.scalar'))
        entries.append((multiarray._reconstruct, f'{core}.multiarray._reconstruct'))
    return entries


def allow_mmengine_checkpoints() -> None:
    """Allow-list :func:`mmengine_checkpoint_globals` for weights-only ``torch.load``.

    Process-wide (torch's ``add_safe_globals``) so that mmengine's own loading
    (``resume``, ``load_from``, mmseg's ``tools/test.py``) reads mmengine
    checkpoints; nothing else is allowed.
    """
    import torch.serialization

    present = set(torch.serialization.get_safe_globals())
    torch.serialization.add_safe_globals(
        [g for g in mmengine_checkpoint_globals() if g not in present])


def install() -> None:
    """Install every shim of this module (idempotent); see the module docstring."""
    global _installed
    if _installed:
        return
    ensure_mmcv_ops_importable()
    allow_mmengine_checkpoints()
    from mmfeatup.analysis.flop_handles import register_flop_handles
    register_flop_handles()
    _installed = True
