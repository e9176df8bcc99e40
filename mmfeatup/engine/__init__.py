"""Runner helpers shared by ``tools/train.py``, ``tools/test.py`` and ``tools/demo.py``.

Nothing here runs at import; the tools call the functions explicitly.
"""
from .config_loading import enable_package_config_lookup, load_config
from .device import (apply_amp, configure_device, init_cpu_distributed, on_gpu,
                     replace_sync_bn)
from .progress_hook import ProgressBarHook

__all__ = [
    'enable_package_config_lookup', 'load_config', 'apply_amp', 'configure_device',
    'init_cpu_distributed', 'on_gpu', 'replace_sync_bn', 'ProgressBarHook',
]
