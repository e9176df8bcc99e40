"""Frozen feature extractors ("featurizers") and the EfficientNet-Lite backbone."""
from ..layers import ChannelNorm
from .efficientnet_lite import (EFFICIENTNET_LITE_MEAN, EFFICIENTNET_LITE_STD, EfficientNetLite,
                                default_lite0_weights)
from .featurizer import (EFFICIENTNET_LITE_MEAN01, EFFICIENTNET_LITE_STD01, FEATURIZER_PRESETS,
                         IMAGENET_MEAN, IMAGENET_STD, Featurizer, build_featurizer)

__all__ = [
    'ChannelNorm', 'EfficientNetLite', 'default_lite0_weights', 'EFFICIENTNET_LITE_MEAN',
    'EFFICIENTNET_LITE_STD', 'EFFICIENTNET_LITE_MEAN01', 'EFFICIENTNET_LITE_STD01',
    'FEATURIZER_PRESETS', 'IMAGENET_MEAN', 'IMAGENET_STD', 'Featurizer', 'build_featurizer',
]
