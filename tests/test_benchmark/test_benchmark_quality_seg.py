"""mmfeatup.benchmark.quality_seg: the config of one segmentation run."""
from mmfeatup.benchmark.quality_seg import default_seg_config, seg_config
from mmfeatup.benchmark.specs import spec_of


def test_seg_config_replaces_the_upsampler_and_squeezes_the_schedule(tmp_path):
    base = default_seg_config()
    assert base is not None
    spec = spec_of('JBU-pre', {'JBU-pre': dict(type='JBUStack', checkpoint='a/upsampler.pth')})
    cfg = seg_config(base, spec, 3, 12, str(tmp_path / 'work'), str(tmp_path / 'data'))
    assert cfg.model.neck.upsampler == dict(type='JBUStack', checkpoint='a/upsampler.pth')
    assert cfg.randomness == dict(seed=3, deterministic=False)
    loop = cfg.train_cfg
    assert (loop.type, loop.max_iters, loop.val_interval) == ('IterBasedTrainLoop', 12, 13)
    # the shipped 120-iteration schedule (warm-up 0-30, poly 30-120) scaled into 12 iterations
    assert [(s['begin'], s['end']) for s in cfg.param_scheduler] == [(0, 3), (3, 12)]
    assert cfg.default_hooks.checkpoint.interval == 10**9
    assert not cfg.default_hooks.checkpoint.save_last
    assert any(e['type'] == 'BoundaryFScore' for e in cfg.val_evaluator)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == str(tmp_path / 'data')
        assert cfg[loader].num_workers == 0
    assert 'mmfeatup.evaluation' in cfg.custom_imports['imports']


def test_fixed_ratio_upsampler_gets_one_ratio_per_level(tmp_path):
    cfg = seg_config(default_seg_config(), 'CARAFE', 0, 2, str(tmp_path), str(tmp_path))
    neck = cfg.model.neck
    assert neck.upsampler == dict(type='CARAFE')
    assert neck.scale_factors == [2 ** level for level in neck.get('in_index', [1, 2, 3])]
