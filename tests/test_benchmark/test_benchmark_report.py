"""mmfeatup.benchmark.report: tables and results.md/json."""
import json

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
