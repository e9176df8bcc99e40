"""High-level Python APIs: train / evaluate upsamplers, fit implicit FeatUp."""
from .implicit import fit_implicit, query_implicit
from .train import evaluate_reconstruction, train_upsampler

__all__ = ['train_upsampler', 'evaluate_reconstruction', 'fit_implicit', 'query_implicit']
