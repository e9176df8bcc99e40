"""mmfeatup.benchmark.report: tables and results.md/json."""
import json

import pytest

from mmfeatup.benchmark.report import (cost_table, environment, quality_table, results_markdown,
                                       write_results)

ROW = dict(name='CARAFE', source=(4, 6), output=(8, 12), channels=4, batch=1, device='cpu',
           guidance='-', params=1234, flops=2e9, uncounted='-', fwd_ms=1.25, fwd_cpu_ms=1.0,
           fwdbwd_ms=3.0, fwdbwd_cpu_ms=2.5, peak_fwd_mb=0.5, peak_fwdbwd_mb=1.5)
NOTE = dict(name='CARAFE', source=(5, 5), output=(12, 12), channels=4, batch=1, device='cpu',
            note='CARAFE needs one integer ratio')


def test_cost_table():
    header, _, row, note = cost_table([ROW, NOTE])
    assert header.startswith('| upsampler | guidance |')
    assert row == ('| CARAFE | - | 4x6 -> 8x12 | 4 | 1 | cpu | 1,234 | 2.00 | 1.2 (1.0) | '
                   '3.0 (2.5) | 0.5 | 1.5 | - |')
    assert 'n/a: CARAFE needs one integer ratio' in note


def test_quality_table():
    recon = dict(Bilinear=dict(rel_mse=[0.5], cos=[0.9], seconds=[1.0], trained=False),
                 JBUStack=dict(error='RuntimeError: boom'))
    seg = dict(Bilinear=dict(mIoU=[30.0, 32.0], bF=[20.0, 20.0], seconds=[10.0, 12.0]))
    probe = dict(JBUStack=dict(mIoU=[40.0, 42.0], acc=[80.0, 80.0]))
    lines = quality_table(['Bilinear', 'JBUStack'], recon, seg, probe)
    assert lines[0].startswith('| upsampler | recon rel-MSE') and 'probe mIoU' in lines[0]
    assert lines[2] == ('| Bilinear | 0.5000 ± 0.0000 (n=1) (no params) | '
                        '0.9000 ± 0.0000 (n=1) | 1 | - | - | 31.00 ± 1.41 (n=2) | '
                        '20.00 ± 0.00 (n=2) | 11 |')
    assert lines[3] == ('| JBUStack | failed: RuntimeError: boom | - | - | 41.00 ± 1.41 (n=2) | '
                        '80.00 ± 0.00 (n=2) | - | - | - |')


def test_results_markdown_and_files(tmp_path):
    env = environment()
    assert env['threads'] >= 1 and env['ops_backend']
    quality = dict(names=['CARAFE'], recon={}, seg={'CARAFE': dict(mIoU=[1.0])},
                   note='Reconstruction: not run. Segmentation: tiny.')
    partial = results_markdown('python x.py', env, {'V': dict(type='JBUStack')}, [ROW], quality,
                               final=False)
    text = '\n'.join(partial)
    assert 'PARTIAL' in text and 'Variant `V`' in text and '## Cost' in text
    assert 'Segmentation: tiny. Values: mean ± sample std over seeds.' in text
    assert '## Quality' not in '\n'.join(results_markdown('c', env, {}, [ROW], None))
    write_results(str(tmp_path), partial, dict(cost=[ROW], env=env))
    assert (tmp_path / 'results.md').read_text() == text
    assert json.loads((tmp_path / 'results.json').read_text())['cost'][0]['params'] == 1234


def test_learning_curve_table_means_over_seeds_and_flags_flat_curves():
    from mmfeatup.benchmark.report import curve_table, last_third_change, mean_curve
    seed0 = [dict(iter=0, rel_mse=1.0), dict(iter=10, rel_mse=0.6), dict(iter=20, rel_mse=0.5),
             dict(iter=30, rel_mse=0.5)]
    seed1 = [dict(iter=0, rel_mse=1.0), dict(iter=10, rel_mse=0.8), dict(iter=20, rel_mse=0.7),
             dict(iter=30, rel_mse=0.6)]
    curve = mean_curve([seed0, seed1])
    assert curve == [(0, 1.0), (10, 0.7), (20, pytest.approx(0.6)), (30, pytest.approx(0.55))]
    # last third: from step 20 (<= 2/3 of 30) to 30: (0.55 - 0.6) / 0.55
    change = last_third_change(curve)
    assert change['since'] == 20 and change['trend'] == pytest.approx(-0.05 / 0.55)
    assert change['largest'] == pytest.approx(0.05 / 0.55)
    assert last_third_change(curve[:1]) is None
    # a dip and a return inside the window is not flat
    dip = last_third_change([(0, 1.0), (60, 0.5), (80, 0.45), (90, 0.5)])
    assert dip['trend'] == 0 and dip['largest'] == pytest.approx(0.1)
    recon = dict(Flat=dict(curve=[seed0, seed0]), Moving=dict(curve=[seed0, seed1]),
                 Bilinear=dict(curve=[[dict(iter=0, rel_mse=0.7)]]))
    lines = curve_table(['Flat', 'Moving', 'Bilinear'], recon)
    rows = {line.split(' | ')[0].strip('| '): line for line in lines if line.startswith('| ')}
    assert rows['Flat'].endswith('| +0.00% (0.00%, 20) | yes |')
    assert rows['Moving'].endswith('| -9.09% (9.09%, 20) | no |')
    assert 'Bilinear' not in rows  # one point: no curve
    assert curve_table(['Bilinear'], recon) == []
