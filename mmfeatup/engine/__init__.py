"""Runner helpers and hooks shared by the tools and by configs.

Importing registers the hooks (``ProgressBarHook``, ``ExactResumeHook``,
``CheckpointKeysHook``, ``SaveUpsamplerHook``, ``LearningCurveHook``) in mmseg's ``HOOKS`` and
``EarlyClipOptimWrapper`` in its ``OPTIM_WRAPPERS``; nothing else runs at import.
"""
from .checkpoint_keys_hook import CheckpointKeysHook
from .config_loading import load_config
from .early_clip_optim_wrapper import EarlyClipOptimWrapper
from .device import (apply_amp, close_distributed, configure_device, init_cpu_distributed,
                     on_gpu, replace_sync_bn)
from .exact_resume_hook import ExactResumeHook, capture_rng_state, restore_rng_state
from .learning_curve_hook import LearningCurveHook
from .progress_hook import ProgressBarHook
from .save_upsampler_hook import SaveUpsamplerHook, plain, save_upsampler

__all__ = [
    'load_config', 'apply_amp', 'close_distributed', 'configure_device', 'init_cpu_distributed',
    'on_gpu',
    'replace_sync_bn', 'ProgressBarHook', 'ExactResumeHook', 'CheckpointKeysHook',
    'capture_rng_state', 'restore_rng_state', 'EarlyClipOptimWrapper', 'SaveUpsamplerHook',
    'save_upsampler', 'plain', 'LearningCurveHook',
]
