"""High-level Python APIs: train / evaluate upsamplers, fit implicit FeatUp."""
from .train import evaluate_reconstruction, train_upsampler

__all__ = ['train_upsampler', 'evaluate_reconstruction']
