# SegFormer-B0 + FeatUp JBU neck on ADE20K: the stock mmseg schedule (160k iters,
# 8 GPUs x 2 images, 512x512 crops) with mmfeatup's neck between the MiT backbone
# and the unchanged SegformerHead. GuidedEncoderDecoder passes the image to the neck.
# Nothing is downloaded: set ``pretrained`` to a local MiT-B0 ImageNet checkpoint
# (mmseg's mit_b0_20220624-7e0fe6dd.pth) to start from it; None trains from scratch.
_base_ = ['mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py',
          '../_base_/models/featup_neck.py']

data_root = 'data/ade/ADEChallengeData2016'
pretrained = None  # e.g. 'pretrain/mit_b0_20220624-7e0fe6dd.pth'

model = dict(
    type='GuidedEncoderDecoder',
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=pretrained) if pretrained else None),
    neck={{_base_.featup_neck}})  # in_channels: the decode head's
# a fixed seed: the data workers are seeded from it, so a resumed run repeats their augmentations
randomness = dict(seed=0)
# The data: mmseg's ADE20K pipelines (mmseg::_base_/datasets/ade20k.py) unchanged, plus checks
# that name the offending file and the fix instead of failing obscurely: the dataset type checks
# the folders and the image/label pairing when it is built, CheckSegMap (right after
# LoadAnnotations; it changes nothing and draws no random numbers) each label map's size and
# values. Same samples, order and augmentations as ADE20KDataset.
dataset_type = 'CheckedADE20KDataset'
num_classes = 150
crop_size = (512, 512)
check_seg_map = dict(type='CheckSegMap', num_classes=num_classes, ignore_index=255)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    check_seg_map,
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    check_seg_map,  # compares with the image's size as read (ori_shape), before Resize
    dict(type='PackSegInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True)
             for r in [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations')],
            [check_seg_map],
            [dict(type='PackSegInputs')],
        ]),
]
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
