"""FeatUp training components: jitter, downsamplers, uncertainty, projection,
losses, the mmengine trainer model and the implicit per-image network."""
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
from .uncertainty import ScaleNet, uncertainty_loss

__all__ = [
    'AttentionDownsampler', 'SimpleDownsampler', 'area_downsample', 'build_downsampler',
    'multiview_reconstruction', 'view_errors', 'JitterParams', 'apply_jitter', 'sample_jitter',
    'SampledCRFLoss', 'tv_loss', 'ReconstructionMetric', 'project', 'random_projection',
    'FeatUpUpsamplerTrainer', 'ScaleNet', 'uncertainty_loss', 'FourierFeatures', 'ImplicitFeatUp',
    'PCAProjector', 'minmax_scale', 'ImplicitFeatUpFitter',
]
