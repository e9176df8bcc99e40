# As the stride-16 config, on EfficientNet-Lite0's stride-32 level (320 ch): x32 output, so
# the stack has five x2 stages (a four-stage stack refuses x32 rather than reuse a stage).
_base_ = ['./jbu_efficientnet-lite0-s16_photos-128.py']

model = dict(featurizer=dict(preset='efficientnet_lite0_s32'), upsampler=dict(num_stages=5))
