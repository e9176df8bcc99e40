# AnyUp for frozen EfficientNet-Lite0 stride-16 features (112 ch), trained with AnyUp's own
# local-crop objective (mmfeatup.models.featup.AnyUpTrainer: the features of the image halved
# are upsampled to the full image's feature grid and compared, on 4 stride-aligned crops per
# image, with the features of those crops; plus 0.1 x augmented-guidance consistency and
# 0.1 x downsampling consistency) on the offline photos; held-out scoring as the FeatUp configs.
# Sized for a 2-core CPU: 128x128 images, batch 4. Optimiser: the authors' AdamW.
#   python tools/train_upsampler.py configs/featup/anyup_efficientnet-lite0-s16_photos-128.py
# Same data, schedule and optimiser as the JAFAR config; only the objective and the upsampler.
_base_ = ['./jafar_efficientnet-lite0-s16_photos-128.py']

model = dict(
    _delete_=True,
    type='AnyUpTrainer',
    featurizer={{_base_.featurizer}},
    upsampler=dict(type='AnyUp'),  # the authors' defaults: qk_dim 128, 4 heads, window 0.1
    local_scale=0.5, num_local_crops=4, reg_weight=0.1, down_weight=0.1,
    eval_views=10, eval_seed=0)
