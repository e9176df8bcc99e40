# As the stride-16 config, on EfficientNet-Lite0's stride-32 level (320 ch), x32 output.
_base_ = ['./jbu_efficientnet-lite0-s16_photos-128.py']

featurizer = dict(
    type='Featurizer',
    backbone=dict(type='EfficientNetLite', arch='lite0', pretrained=True, out_indices=(4, )),
    stride=32, channels=320,
    mean=(127 / 255, 127 / 255, 127 / 255), std=(128 / 255, 128 / 255, 128 / 255),
    channel_norm=True)
model = dict(featurizer=featurizer, downsampler=dict(type='simple', kernel_size=32))
