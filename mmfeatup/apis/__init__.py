"""High-level Python APIs: train / evaluate upsamplers, fit implicit FeatUp."""
from .implicit import fit_implicit, query_implicit
from .train import evaluate_reconstruction, load_eval_images, train_upsampler

__all__ = ['train_upsampler', 'evaluate_reconstruction', 'load_eval_images', 'fit_implicit',
           'query_implicit']
