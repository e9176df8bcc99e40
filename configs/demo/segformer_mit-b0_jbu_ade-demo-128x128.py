# SegFormer-B0 + FeatUp JBU neck, both trained from scratch, on the bundled
# ADE20K-format demo dataset (tools/dataset_converters/make_demo_dataset.py), sized for
# 2 CPU cores: 128x128 crops of 160x160 samples, BN (no SyncBN), batch 8, a short schedule.
# Run it with `python tools/demo.py --config configs/demo/segformer_mit-b0_jbu_ade-demo-128x128.py`
# or `python tools/train.py configs/demo/segformer_mit-b0_jbu_ade-demo-128x128.py`.
_base_ = ['../segformer/segformer_mit-b0_jbu_8xb2-160k_ade20k-512x512.py']

data_root = 'data/ade_demo'
crop_size = (128, 128)
max_iters = 120
norm_cfg = dict(type='BN', requires_grad=True)
# CheckedADE20KDataset (dataset_type of the base config) checks the folders and the pairing,
# CheckSegMap each label map's size and values (ADE20K: 150 classes, 255 ignored); both name the
# offending file and the fix. CheckSegMap changes nothing and draws no random numbers.
check_seg_map = {{_base_.check_seg_map}}

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=None),
    decode_head=dict(norm_cfg=norm_cfg),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    check_seg_map,
    dict(type='RandomResize', scale=(160, 160), ratio_range=(0.8, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    check_seg_map,
    dict(type='PackSegInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in (1.0, 1.25)],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations')],
            [check_seg_map],
            [dict(type='PackSegInputs')],
        ]),
]
# the bundled set has ADE20K's layout (images|annotations/training|validation): the base's prefixes
train_dataloader = dict(batch_size=8, num_workers=1, persistent_workers=True,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, num_workers=1, persistent_workers=True,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

# From scratch: a larger learning rate than the stock fine-tuning one, short warm-up.
optim_wrapper = dict(optimizer=dict(lr=1e-3), paramwise_cfg=dict(custom_keys={
    'pos_block': dict(decay_mult=0.), 'norm': dict(decay_mult=0.), 'head': dict(lr_mult=1.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=30, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
custom_hooks = [dict(type='ProgressBarHook'), dict(type='ExactResumeHook'), dict(type='CheckpointKeysHook')]
