# What every FeatUp upsampler-training config shares (mmengine Runner): the authors' multi-view
# recipe, image-folder data with a held-out split scored by ReconstructionMetric, NAdam, runtime.
# A config sets the featurizer, the upsampler, the data roots, crop size, batch and schedule.
default_scope = 'mmseg'
custom_imports = dict(imports=['mmfeatup.models', 'mmfeatup.datasets', 'mmfeatup.engine'],
                      allow_failed_imports=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=False, window_size=10)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'))
# bit-exact --resume (random generators saved per rank); refuse a checkpoint that fits nothing;
# at the end, the upsampler alone as <work_dir>/upsampler.pth (what mmfeatup/weights/ ships)
custom_hooks = [dict(type='ExactResumeHook'), dict(type='CheckpointKeysHook'),
                dict(type='SaveUpsamplerHook')]

model = dict(
    type='FeatUpUpsamplerTrainer',
    upsampler=dict(type='JBUStack'),
    downsampler=dict(type='simple'),  # kernel = the featurizer's stride
    n_jitters=5, max_pad=20, max_zoom=2.0, proj_dim=30,
    predicted_uncertainty=True, crf_weight=0.001, tv_weight=0.0)
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', random_crop=False))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', random_crop=False))
val_evaluator = dict(type='ReconstructionMetric')
val_cfg = dict(type='ValLoop')
# the authors clip the gradient norm to 1e-4 for the first 10 steps
optim_wrapper = dict(type='EarlyClipOptimWrapper', optimizer=dict(type='NAdam', lr=1e-3),
                     clip_steps=10, max_norm=1e-4)
param_scheduler = []
