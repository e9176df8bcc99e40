"""Compatibility with the OpenMMLab stack this project pins.

Two known breakages are handled here, explicitly (nothing happens at import):

* ``mmsegmentation==1.2.2`` imports ``mmcv.ops`` unguarded, and ``mmcv-lite``
  ships no compiled ``mmcv._ext``. :func:`ensure_mmcv_ops_importable` registers
  a stub ``mmcv._ext`` whose functions raise ``NotImplementedError`` -- only
  when no real extension can be found, so a full mmcv is never shadowed.
* ``torch>=2.6`` loads checkpoints with ``weights_only=True`` by default, which
  rejects mmengine's checkpoints (they pickle ``HistoryBuffer``, numpy scalars
  and the config). :func:`allow_full_checkpoint_loading` restores the previous
  default for this process; the tools call it (checkpoints you load are trusted
  files you trained).
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import types

_STUB_NAME = 'mmcv._ext'


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


def allow_full_checkpoint_loading() -> None:
    """Let ``torch.load`` unpickle mmengine checkpoints (resume, load_from)."""
    os.environ.setdefault('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
