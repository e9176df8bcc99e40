# Runtime shared by the FeatUp upsampler-training configs (mmengine Runner).
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
# bit-exact --resume (random generators saved per rank); refuse a checkpoint that fits nothing
custom_hooks = [dict(type='ExactResumeHook'), dict(type='CheckpointKeysHook')]
