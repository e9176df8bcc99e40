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
    featurizer=featurizer,
    upsampler=dict(scale_factor=16),
    downsampler=dict(type='attention'),  # kernel = the ViT's patch size, 14, as the authors'
    upsample_per_view=True)  # every view its own upsampling and dropout masks, as the authors'

train_dataloader = dict(num_workers=4, persistent_workers=True,
                        dataset=dict(data_root=data_root, resize=crop_size, crop_size=crop_size))
val_dataloader = dict(num_workers=1, dataset=dict(data_root=heldout_root, resize=crop_size,
                                                  crop_size=crop_size))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=500)
default_hooks = dict(checkpoint=dict(interval=500))
