"""Load configs that inherit ``mmseg::`` bases on this stack.

``Config.fromfile`` resolves ``mmseg::segformer/...`` with
``mmengine.utils.is_installed`` / ``get_installed_path``, which import
``pkg_resources``; setuptools >= 81 no longer ships it. When it is missing,
:func:`enable_package_config_lookup` points mmengine's config module at
equivalents built on :mod:`importlib` (only then; nothing changes otherwise).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os.path as osp
from typing import Any, Dict, Optional

from mmengine.config import Config


def _pkg_resources_available() -> bool:
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        return False
    return True


def _module_name(package: str) -> str:
    """The import name of a distribution (``mmsegmentation`` -> ``mmseg``)."""
    try:
        top_level = importlib.metadata.distribution(package).read_text('top_level.txt')
    except importlib.metadata.PackageNotFoundError:
        return package
    names = (top_level or '').split()
    return names[0] if names else package


def _is_installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(_module_name(package)) is not None
    except (ImportError, ValueError):
        return False


def _get_installed_path(package: str) -> str:
    spec = importlib.util.find_spec(_module_name(package))
    if spec is None or spec.origin is None:
        raise RuntimeError(f'cannot locate the installed package {package!r}')
    return osp.dirname(spec.origin)


def enable_package_config_lookup() -> bool:
    """Make ``mmseg::``-style config bases resolvable without ``pkg_resources``.

    Returns:
        bool: True if mmengine's lookup functions were replaced.
    """
    if _pkg_resources_available():
        return False
    import mmengine.config.config as config_module
    config_module.is_installed = _is_installed
    config_module.get_installed_path = _get_installed_path
    return True


def load_config(path: str, cfg_options: Optional[Dict[str, Any]] = None) -> Config:
    """``Config.fromfile(path)`` (``mmseg::`` bases allowed) plus ``--cfg-options``.

    Args:
        path (str): config file.
        cfg_options (dict, optional): ``key=value`` overrides (dotted keys).

    Returns:
        Config: the merged config.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    enable_package_config_lookup()
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg
