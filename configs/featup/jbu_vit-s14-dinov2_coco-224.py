# FeatUp JBUStack for a DINOv2 ViT-S/14 (timm) on COCO-style image folders, as the
# authors train it (224 crops, batch 4, attention downsampler, 2000 steps). Not run
# here: needs your own weights and a GPU.
#   python tools/train_upsampler.py configs/featup/jbu_vit-s14-dinov2_coco-224.py \
#       --cfg-options model.featurizer.weights=/path/to/vit_small_patch14_dinov2.pth \
#       train_dataloader.dataset.data_root=data/coco/train2017
_base_ = ['./_base_/featup_runtime.py']

crop_size = 224
data_root = 'data/coco/train2017'
heldout_root = 'data/photos/heldout'
# A local timm-format state dict of the ViT (required: nothing is downloaded; a missing
# file stops the run with FileNotFoundError naming it).
vit_weights = 'checkpoints/vit_small_patch14_dinov2.pth'

featurizer = dict(preset='vit_small_patch14_dinov2', weights=vit_weights, channel_norm=True)

model = dict(
    type='FeatUpUpsamplerTrainer',
    featurizer=featurizer,
    upsampler=dict(type='JBUStack', scale_factor=16),
    downsampler=dict(type='attention'),  # kernel = the ViT's patch size, 14, as the authors'
    n_jitters=5, max_pad=20, max_zoom=2.0, proj_dim=30,
    predicted_uncertainty=True, crf_weight=0.001, tv_weight=0.0)

train_dataloader = dict(
    batch_size=4, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', data_root=data_root,
                 resize=crop_size, crop_size=crop_size, random_crop=False))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', data_root=heldout_root,
                 resize=crop_size, crop_size=crop_size))
val_evaluator = dict(type='ReconstructionMetric')

train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=500)
val_cfg = dict(type='ValLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='NAdam', lr=1e-3))
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=500))
