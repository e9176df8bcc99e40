# The README's demo (`make demo`, `python tools/demo.py`), FeatUp's intended use: the JBU
# pre-trained for the backbone with FeatUp's multi-view loss (shipped weights, see
# effnet-lite0_jbu-featup_ade-demo-128x128.py) upsamples every neck level and its stages
# stay as trained (task-agnostic, no updates); backbone, the per-level C x C residuals and
# the SegformerHead train as usual. Measured against bilinear and against fine-tuning the
# stages in docs/benchmarks.md, section 4.3.
_base_ = ['./effnet-lite0_jbu-featup_ade-demo-128x128.py']

# the stage modules up1..up4 of every level's JBUStack get no updates (no weight decay either)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    f'.up{i}.': dict(lr_mult=0.0, decay_mult=0.0) for i in range(1, 5)}))
