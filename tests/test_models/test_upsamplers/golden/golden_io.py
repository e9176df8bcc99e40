"""What the golden-making scripts here share: loading a file as a module, writing the goldens."""
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any


def load_module(name: str, path: str) -> ModuleType:
    """Import the Python file at ``path`` as module ``name`` (the official files are not
    packages; registered in ``sys.modules`` so that their own imports of it resolve)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def save_goldens(out_dir: str, **goldens: Any) -> None:
    """``torch.save`` each golden as ``out_dir/NAME.pt`` and print its size."""
    import torch
    for name, golden in goldens.items():
        path = os.path.join(out_dir, f'{name}.pt')
        torch.save(golden, path)
        print(f'wrote {path} ({os.path.getsize(path)} bytes)')
