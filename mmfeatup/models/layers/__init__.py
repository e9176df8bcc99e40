"""Small building blocks shared by featurizers, FeatUp networks and upsamplers."""
from .channel_norm import ChannelNorm

__all__ = ['ChannelNorm']
