# FeatUp JBUStack for frozen EfficientNet-Lite0 stride-16 features (112 ch), trained on
# the offline photos (tools/dataset_converters/collect_photos.py) with multi-view
# reconstruction. Sized for a 2-core CPU: 128x128 crops, batch 4.
#   python tools/train_upsampler.py configs/featup/jbu_efficientnet-lite0-s16_photos-128.py
_base_ = ['./_base_/featup_runtime.py']

crop_size = 128
data_root = 'data/photos'

# mmfeatup's named featurizer (FEATURIZER_PRESETS): frozen ImageNet EfficientNet-Lite0, its
# stride-16 level (112 ch) and own input normalisation; FeatUp trains on channel-normed features.
featurizer = dict(preset='efficientnet_lite0_s16', channel_norm=True)

model = dict(featurizer=featurizer, eval_views=10, eval_seed=0)

train_dataloader = dict(dataset=dict(data_root=f'{data_root}/train', resize=crop_size,
                                     crop_size=crop_size, random_crop=True, flip_prob=0.5))
val_dataloader = dict(dataset=dict(data_root=f'{data_root}/heldout', resize=crop_size,
                                   crop_size=crop_size))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=600, val_interval=200)
default_hooks = dict(checkpoint=dict(interval=200))
