# JAFAR for frozen EfficientNet-Lite0 stride-16 features (112 ch), trained with JAFAR's own
# low-resolution objective (mmfeatup.models.featup.JAFARTrainer: features of the image
# downscaled by U(0.25, 0.5) upsampled to the features of the full image, cosine + scaled MSE,
# plus 0.1 x consistency under a blurred / noisy guidance) on the offline photos
# (tools/dataset_converters/collect_photos.py); held-out scoring as the FeatUp configs.
# Sized for a 2-core CPU: 128x128 crops, batch 4. Optimiser: the authors' AdamW.
#   python tools/train_upsampler.py configs/featup/jafar_efficientnet-lite0-s16_photos-128.py
_base_ = ['./_base_/featup_runtime.py']

crop_size = 128
data_root = 'data/photos'

featurizer = dict(preset='efficientnet_lite0_s16', channel_norm=True)

model = dict(
    _delete_=True,
    type='JAFARTrainer',
    featurizer=featurizer,
    upsampler=dict(type='JAFAR'),  # the authors' defaults: qk_dim 128, 4 heads
    lr_scale=(0.25, 0.5), guidance_scale=0.5, reg_weight=0.1,
    eval_views=10, eval_seed=0)

train_dataloader = dict(dataset=dict(data_root=f'{data_root}/train', resize=crop_size,
                                     crop_size=crop_size, random_crop=True, flip_prob=0.5))
val_dataloader = dict(dataset=dict(data_root=f'{data_root}/heldout', resize=crop_size,
                                   crop_size=crop_size))
# no FeatUp early gradient clipping: the authors train with plain AdamW
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(
    type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-5))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=100))
