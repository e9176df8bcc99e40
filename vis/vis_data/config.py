checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b0_20220624-7e0fe6dd.pth'
crop_size = (
    128,
    128,
)
custom_hooks = [
    dict(type='ProgressBarHook'),
]
custom_imports = dict(
    allow_failed_imports=False,
    imports=[
        'mmfeatup.models',
        'mmfeatup.engine',
    ])
data_preprocessor = dict(
    _scope_='mmseg',
    bgr_to_rgb=True,
    mean=[
        123.675,
        116.28,
        103.53,
    ],
    pad_val=0,
    seg_pad_val=255,
    size=(
        512,
        512,
    ),
    std=[
        58.395,
        57.12,
        57.375,
    ],
    type='SegDataPreProcessor')
data_root = 'data/ade_demo'
dataset_type = 'ADE20KDataset'
default_hooks = dict(
    checkpoint=dict(
        _scope_='mmseg',
        by_epoch=False,
        interval=240,
        max_keep_ckpts=1,
        type='CheckpointHook'),
    logger=dict(
        _scope_='mmseg',
        interval=20,
        log_metric_by_epoch=False,
        type='LoggerHook'),
    param_scheduler=dict(_scope_='mmseg', type='ParamSchedulerHook'),
    sampler_seed=dict(_scope_='mmseg', type='DistSamplerSeedHook'),
    timer=dict(_scope_='mmseg', type='IterTimerHook'),
    visualization=dict(
        _scope_='mmseg', draw=True, type='SegVisualizationHook'))
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='gloo'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
find_unused_parameters = True
img_ratios = [
    0.5,
    0.75,
    1.0,
    1.25,
    1.5,
    1.75,
]
launcher = 'none'
load_from = '/tmp/segh/demo1/iter_3.pth'
log_level = 'INFO'
log_processor = dict(by_epoch=False)
max_iters = 240
model = dict(
    _scope_='mmseg',
    module=dict(
        _scope_='mmseg',
        backbone=dict(
            attn_drop_rate=0.0,
            drop_path_rate=0.1,
            drop_rate=0.0,
            embed_dims=32,
            in_channels=3,
            init_cfg=None,
            mlp_ratio=4,
            num_heads=[
                1,
                2,
                5,
                8,
            ],
            num_layers=[
                2,
                2,
                2,
                2,
            ],
            num_stages=4,
            out_indices=(
                0,
                1,
                2,
                3,
            ),
            patch_sizes=[
                7,
                3,
                3,
                3,
            ],
            qkv_bias=True,
            sr_ratios=[
                8,
                4,
                2,
                1,
            ],
            type='MixVisionTransformer'),
        data_preprocessor=dict(
            bgr_to_rgb=True,
            mean=[
                123.675,
                116.28,
                103.53,
            ],
            pad_val=0,
            seg_pad_val=255,
            size=(
                128,
                128,
            ),
            std=[
                58.395,
                57.12,
                57.375,
            ],
            type='SegDataPreProcessor'),
        decode_head=dict(
            align_corners=False,
            channels=256,
            dropout_ratio=0.1,
            in_channels=[
                32,
                64,
                160,
                256,
            ],
            in_index=[
                0,
                1,
                2,
                3,
            ],
            loss_decode=dict(
                loss_weight=1.0, type='CrossEntropyLoss', use_sigmoid=False),
            norm_cfg=dict(requires_grad=True, type='BN'),
            num_classes=150,
            type='SegformerHead'),
        neck=dict(
            guidance='image',
            in_channels=[
                32,
                64,
                160,
                256,
            ],
            in_index=[
                1,
                2,
                3,
            ],
            output_stride=None,
            type='FeatUpNeck',
            upsampler=dict(type='JBUStack')),
        pretrained=None,
        test_cfg=dict(mode='whole'),
        train_cfg=dict(),
        type='GuidedEncoderDecoder'),
    type='SegTTAModel')
norm_cfg = dict(_scope_='mmseg', requires_grad=True, type='BN')
optim_wrapper = dict(
    _scope_='mmseg',
    optimizer=dict(
        betas=(
            0.9,
            0.999,
        ), lr=0.001, type='AdamW', weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys=dict(
            head=dict(lr_mult=1.0),
            norm=dict(decay_mult=0.0),
            pos_block=dict(decay_mult=0.0))),
    type='OptimWrapper')
optimizer = dict(
    _scope_='mmseg', lr=0.01, momentum=0.9, type='SGD', weight_decay=0.0005)
param_scheduler = [
    dict(begin=0, by_epoch=False, end=30, start_factor=0.001, type='LinearLR'),
    dict(
        begin=30,
        by_epoch=False,
        end=240,
        eta_min=0.0,
        power=1.0,
        type='PolyLR'),
]
pretrained = None
randomness = dict(seed=0)
resume = False
test_cfg = dict(_scope_='mmseg', type='TestLoop')
test_dataloader = dict(
    batch_size=1,
    dataset=dict(
        _scope_='mmseg',
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        data_root='/tmp/segh/ade_tiny',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                transforms=[
                    [
                        dict(keep_ratio=True, scale_factor=1.0, type='Resize'),
                        dict(
                            keep_ratio=True, scale_factor=1.25, type='Resize'),
                    ],
                    [
                        dict(
                            direction='horizontal',
                            prob=0.0,
                            type='RandomFlip'),
                        dict(
                            direction='horizontal',
                            prob=1.0,
                            type='RandomFlip'),
                    ],
                    [
                        dict(type='LoadAnnotations'),
                    ],
                    [
                        dict(type='PackSegInputs'),
                    ],
                ],
                type='TestTimeAug'),
        ],
        type='ADE20KDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_scope_='mmseg', shuffle=False, type='DefaultSampler'))
test_evaluator = dict(
    _scope_='mmseg', iou_metrics=[
        'mIoU',
    ], type='IoUMetric')
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(reduce_zero_label=True, type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_cfg = dict(
    _scope_='mmseg',
    max_iters=240,
    type='IterBasedTrainLoop',
    val_interval=240)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _scope_='mmseg',
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        data_root='data/ade_demo',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(reduce_zero_label=True, type='LoadAnnotations'),
            dict(
                keep_ratio=True,
                ratio_range=(
                    0.8,
                    1.5,
                ),
                scale=(
                    160,
                    160,
                ),
                type='RandomResize'),
            dict(
                cat_max_ratio=0.75, crop_size=(
                    128,
                    128,
                ), type='RandomCrop'),
            dict(prob=0.5, type='RandomFlip'),
            dict(type='PhotoMetricDistortion'),
            dict(type='PackSegInputs'),
        ],
        type='ADE20KDataset'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(_scope_='mmseg', shuffle=True, type='InfiniteSampler'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(reduce_zero_label=True, type='LoadAnnotations'),
    dict(
        keep_ratio=True,
        ratio_range=(
            0.8,
            1.5,
        ),
        scale=(
            160,
            160,
        ),
        type='RandomResize'),
    dict(cat_max_ratio=0.75, crop_size=(
        128,
        128,
    ), type='RandomCrop'),
    dict(prob=0.5, type='RandomFlip'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
tta_model = dict(
    _scope_='mmseg',
    module=dict(
        _scope_='mmseg',
        backbone=dict(
            attn_drop_rate=0.0,
            drop_path_rate=0.1,
            drop_rate=0.0,
            embed_dims=32,
            in_channels=3,
            init_cfg=None,
            mlp_ratio=4,
            num_heads=[
                1,
                2,
                5,
                8,
            ],
            num_layers=[
                2,
                2,
                2,
                2,
            ],
            num_stages=4,
            out_indices=(
                0,
                1,
                2,
                3,
            ),
            patch_sizes=[
                7,
                3,
                3,
                3,
            ],
            qkv_bias=True,
            sr_ratios=[
                8,
                4,
                2,
                1,
            ],
            type='MixVisionTransformer'),
        data_preprocessor=dict(
            bgr_to_rgb=True,
            mean=[
                123.675,
                116.28,
                103.53,
            ],
            pad_val=0,
            seg_pad_val=255,
            size=(
                128,
                128,
            ),
            std=[
                58.395,
                57.12,
                57.375,
            ],
            type='SegDataPreProcessor'),
        decode_head=dict(
            align_corners=False,
            channels=256,
            dropout_ratio=0.1,
            in_channels=[
                32,
                64,
                160,
                256,
            ],
            in_index=[
                0,
                1,
                2,
                3,
            ],
            loss_decode=dict(
                loss_weight=1.0, type='CrossEntropyLoss', use_sigmoid=False),
            norm_cfg=dict(requires_grad=True, type='BN'),
            num_classes=150,
            type='SegformerHead'),
        neck=dict(
            guidance='image',
            in_channels=[
                32,
                64,
                160,
                256,
            ],
            in_index=[
                1,
                2,
                3,
            ],
            output_stride=None,
            type='FeatUpNeck',
            upsampler=dict(type='JBUStack')),
        pretrained=None,
        test_cfg=dict(mode='whole'),
        train_cfg=dict(),
        type='GuidedEncoderDecoder'),
    type='SegTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        transforms=[
            [
                dict(keep_ratio=True, scale_factor=1.0, type='Resize'),
                dict(keep_ratio=True, scale_factor=1.25, type='Resize'),
            ],
            [
                dict(direction='horizontal', prob=0.0, type='RandomFlip'),
                dict(direction='horizontal', prob=1.0, type='RandomFlip'),
            ],
            [
                dict(type='LoadAnnotations'),
            ],
            [
                dict(type='PackSegInputs'),
            ],
        ],
        type='TestTimeAug'),
]
val_cfg = dict(_scope_='mmseg', type='ValLoop')
val_dataloader = dict(
    batch_size=1,
    dataset=dict(
        _scope_='mmseg',
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        data_root='data/ade_demo',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(reduce_zero_label=True, type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ],
        type='ADE20KDataset'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(_scope_='mmseg', shuffle=False, type='DefaultSampler'))
val_evaluator = dict(
    _scope_='mmseg', iou_metrics=[
        'mIoU',
    ], type='IoUMetric')
vis_backends = [
    dict(_scope_='mmseg', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmseg',
    name='visualizer',
    save_dir='vis',
    type='SegLocalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = '/tmp/segh/test1'
