# The FeatUp neck, as a fragment for any mmseg config: put it in `_base_` beside the stock
# config and set `model = dict(type='GuidedEncoderDecoder', neck={{_base_.featup_neck}})`.
#   backbone -> FeatUpNeck (levels 1-3 upsampled to level 0's grid, guided by the image) -> head
# GuidedEncoderDecoder hands the image to the neck; the neck takes the decode head's
# `in_channels` when it sets none, and derives per-level ratios from `strides` where an
# upsampler needs them (see mmfeatup/models/necks/featup_neck.py).
custom_imports = dict(imports=['mmfeatup.models', 'mmfeatup.datasets', 'mmfeatup.engine'],
                      allow_failed_imports=False)
featup_neck = dict(
    type='FeatUpNeck',
    in_index=[1, 2, 3],  # strides 8/16/32 -> the stride-4 grid of level 0
    upsampler=dict(type='JBUStack'),
    guidance='image',
    output_stride=None)
# JBUStack keeps the authors' four x2 stage modules; a level that needs fewer (stride 8 -> 4
# uses one) leaves the others without gradients, which DistributedDataParallel must be told.
find_unused_parameters = True
# ExactResumeHook: `--resume` continues bit-exactly (random generators saved per rank);
# CheckpointKeysHook: a checkpoint that fits none of the model's weights is an error.
custom_hooks = [dict(type='ExactResumeHook'), dict(type='CheckpointKeysHook')]
