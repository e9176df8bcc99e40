"""mmfeatup.benchmark.specs: sizes, upsampler configs, --variant rows, the rows of a run."""
import argparse

import pytest

from mmfeatup.benchmark.specs import (for_seed, parse_size, parse_variant, priority_order,
                                      select_names, spec_of, upsampler_cfg)


def test_parse_size():
    assert parse_size('14x14:224x200') == ((14, 14), (224, 200))
    with pytest.raises(argparse.ArgumentTypeError, match='14x14:224x224'):
        parse_size('14:224')


def test_fixed_ratio_upsamplers_get_their_ratio_or_a_clear_note():
    assert upsampler_cfg('CARAFE', (4, 6), (16, 24)) == dict(type='CARAFE', scale_factor=4)
    with pytest.raises(ValueError, match='integer ratio'):
        upsampler_cfg('CARAFE', (5, 5), (12, 12))
    assert upsampler_cfg('DySample', (5, 5), (12, 12))['scale_factor'] == 2


def test_unknown_name_is_rejected():
    with pytest.raises(SystemExit, match='unknown upsampler'):
        select_names(['NoSuchUpsampler'], [])


def test_variant_parsing():
    label, spec = parse_variant(['JBU-pre', 'JBUStack', 'checkpoint=a/b.pth', 'radius=2'])
    assert label == 'JBU-pre' and spec == dict(type='JBUStack', checkpoint='a/b.pth', radius=2)
    assert spec_of('JBU-pre', {label: spec}) == spec
    assert spec_of('Bilinear', {label: spec}) == dict(type='Bilinear')
    for bad in (['JBU-pre'], ['JBU-pre', 'NoSuchUpsampler'], ['JBU-pre', 'JBUStack', 'radius'],
                ['JBU-pre', 'JBUStack', 'type=Bilinear']):
        with pytest.raises(ValueError):
            parse_variant(bad)
    with pytest.raises(SystemExit, match='registered names'):
        select_names(None, [], {'Bilinear': dict(type='JBUStack')})
    assert select_names(['Bilinear'], [], {label: spec}) == ['Bilinear', 'JBU-pre']
    assert select_names(None, ['Bilinear'], {label: spec})[-1] == 'JBU-pre'


def test_priority_order_puts_the_targets_first():
    assert priority_order(['CARAFE', 'JBUStack', 'Bicubic', 'Bilinear']) == [
        'Bilinear', 'JBUStack', 'Bicubic', 'CARAFE']


def test_for_seed_names_one_file_per_seed():
    cfg = dict(type='JBUStack', checkpoint='w/seed{seed}/upsampler.pth', radius=3)
    assert for_seed(cfg, 2) == dict(type='JBUStack', checkpoint='w/seed2/upsampler.pth', radius=3)
    assert cfg['checkpoint'] == 'w/seed{seed}/upsampler.pth'  # not changed in place
