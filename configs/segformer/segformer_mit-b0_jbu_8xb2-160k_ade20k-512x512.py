# SegFormer-B0 + FeatUp JBU neck on ADE20K: the stock mmseg schedule (160k iters,
# 8 GPUs x 2 images, 512x512 crops) with mmfeatup's neck between the MiT backbone
# and the unchanged SegformerHead. GuidedEncoderDecoder passes the image to the neck.
# Nothing is downloaded: set ``pretrained`` to a local MiT-B0 ImageNet checkpoint
# (mmseg's mit_b0_20220624-7e0fe6dd.pth) to start from it; None trains from scratch.
_base_ = ['mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py']
custom_imports = dict(imports=['mmfeatup.models'], allow_failed_imports=False)

data_root = 'data/ade/ADEChallengeData2016'
pretrained = None  # e.g. 'pretrain/mit_b0_20220624-7e0fe6dd.pth'

model = dict(
    type='GuidedEncoderDecoder',
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=pretrained) if pretrained else None),
    neck=dict(
        type='FeatUpNeck',
        in_channels=[32, 64, 160, 256],
        in_index=[1, 2, 3],  # strides 8/16/32 -> the stride-4 grid of level 0
        upsampler=dict(type='JBUStack'),
        guidance='image',
        output_stride=None))
# JBUStack keeps the authors' four x2 stage modules; a level that needs fewer (stride 8 -> 4
# uses one) leaves the others without gradients, which DistributedDataParallel must be told.
find_unused_parameters = True
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
