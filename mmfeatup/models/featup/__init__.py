"""Upsampler training components: jitter, downsamplers, uncertainty, projection, losses,
the mmengine trainer models (FeatUp's multi-view, JAFAR's and AnyUp's low-resolution
objectives, on one base) and the implicit per-image network and its fitter."""
from .downsamplers import (AttentionDownsampler, SimpleDownsampler, area_downsample,
                           build_downsampler)
from .implicit import FourierFeatures, ImplicitFeatUp, PCAProjector, minmax_scale
from .implicit_fitter import ImplicitFeatUpFitter
from .evaluation import multiview_reconstruction, view_errors
from .jitter import JitterParams, apply_jitter, sample_jitter
from .losses import SampledCRFLoss, tv_loss
from .metric import ReconstructionMetric
from .projection import project, random_projection
from .trainer import FeatUpUpsamplerTrainer
from .trainer_base import UpsamplerTrainerBase
from .jafar_trainer import JAFARTrainer, LowResTrainerBase, cosine_mse_loss
from .anyup_trainer import AnyUpTrainer
from .uncertainty import ScaleNet, uncertainty_loss

__all__ = [
    'AttentionDownsampler', 'SimpleDownsampler', 'area_downsample', 'build_downsampler',
    'multiview_reconstruction', 'view_errors', 'JitterParams', 'apply_jitter', 'sample_jitter',
    'SampledCRFLoss', 'tv_loss', 'ReconstructionMetric', 'project', 'random_projection',
    'FeatUpUpsamplerTrainer', 'ScaleNet', 'uncertainty_loss', 'FourierFeatures', 'ImplicitFeatUp',
    'PCAProjector', 'minmax_scale', 'ImplicitFeatUpFitter', 'UpsamplerTrainerBase',
    'JAFARTrainer', 'LowResTrainerBase', 'cosine_mse_loss', 'AnyUpTrainer',
]
