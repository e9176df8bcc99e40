"""Load a config file plus ``--cfg-options`` overrides (MMSegmentation's tool convention).

Plain :meth:`mmengine.config.Config.fromfile`: ``mmseg::`` bases resolve through
mmengine's own lookup (it needs ``pkg_resources``, hence the ``setuptools<81``
requirement); nothing of mmengine is patched.
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, Optional

from mmengine.config import Config


def load_config(path: str, cfg_options: Optional[Dict[str, Any]] = None) -> Config:
    """``Config.fromfile(path)`` plus ``--cfg-options``.

    Args:
        path (str): config file.
        cfg_options (dict, optional): ``key=value`` overrides (dotted keys).

    Returns:
        Config: the merged config.

    Raises:
        FileNotFoundError: ``path`` is not a file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg
