"""Loading the ops under test with mmengine/mmseg/mmcv blocked (torch only)."""
from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BLOCKED = ('mmengine', 'mmseg', 'mmcv', 'mmdet')


class _BlockImports(importlib.abc.MetaPathFinder):
    """Make mmengine/mmseg/... unimportable, as on a machine without them."""

    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{name} is blocked by gpu_selftest (not needed by the ops)')
        return None


def _load_module_from_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Ops:
    """The ops under test: torch.ops.mmfeatup plus the public API and the references."""

    def __init__(self, ext_path):
        self.ext_path = ext_path
        self.public = None
        self.reference = None
        self.library = None
        self.with_cuda = False

    def load(self):
        """Import mmfeatup.ops with mmengine/mmseg blocked; returns a detail string."""
        if self.ext_path:
            _load_module_from_file('mmfeatup._ext', self.ext_path)  # before mmfeatup.ops
        blocker = _BlockImports()
        sys.meta_path.insert(0, blocker)
        sys.path.insert(0, ROOT)
        try:
            import mmfeatup.ops as public
            from mmfeatup.ops import library, loader, reference
            if not public.load_extension():
                raise RuntimeError('mmfeatup.ops runs the reference backend: the compiled '
                                   'library could not be imported')
            leaked = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED)
            if leaked:
                raise RuntimeError(f'imported {leaked}')
        finally:
            sys.meta_path.remove(blocker)
        self.public, self.reference, self.library = public, reference, library
        self.with_cuda = bool(getattr(loader.extension(), 'with_cuda', 0))
        return f'backend={public.backend()} ext={sys.modules["mmfeatup._ext"].__file__}'

    def load_directly(self):
        """Fallback: the library files by path (they need torch only)."""
        if 'mmfeatup._ext' not in sys.modules:
            if not self.ext_path:
                raise RuntimeError('mmfeatup.ops cannot be imported and no --ext was given')
            _load_module_from_file('mmfeatup._ext', self.ext_path)
        ops_dir = os.path.join(ROOT, 'mmfeatup', 'ops')
        self.library = _load_module_from_file('_mmfeatup_ops_library',
                                              os.path.join(ops_dir, 'library.py'))
        self.reference = _load_module_from_file('_mmfeatup_ops_reference',
                                                os.path.join(ops_dir, 'reference.py'))
        self.library.register_python_parts()
        self.with_cuda = bool(getattr(sys.modules['mmfeatup._ext'], 'with_cuda', 0))

    # The differentiable ops (public API when importable, else the raw ops: same kernels).
    def adaptive_conv(self, source, weights):
        return torch.ops.mmfeatup.adaptive_conv(source, weights)

    def bicubic_adaptive_conv(self, source, weights):
        return torch.ops.mmfeatup.bicubic_adaptive_conv(source, weights)

    def range_kernel(self, keys, tau, radius):
        return torch.ops.mmfeatup.range_kernel(keys, tau, radius)

    def jbu_upsample(self, source, keys, tau, sigma, radius):
        return torch.ops.mmfeatup.jbu_upsample(source, keys, tau, sigma, radius)
