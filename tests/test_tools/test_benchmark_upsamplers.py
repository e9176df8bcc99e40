"""The upsampler benchmark runs end to end on a tiny size and writes its outputs."""
import json

import pytest


@pytest.fixture(scope='module')
def bench(load_tool):
    return load_tool('analysis_tools/benchmark_upsamplers.py')


def test_command_line_choices(bench):
    for quality in ('none', 'recon', 'seg', 'all'):
        assert bench.parse_args(['--quality', quality]).quality == [quality]
    assert bench.parse_args(['--quality', 'recon', 'probe']).quality == ['recon', 'probe']
    assert bench.parse_args(['--sizes', '14x14:224x200']).sizes == [((14, 14), (224, 200))]
    with pytest.raises(SystemExit):
        bench.parse_args(['--sizes', '14:224'])
    with pytest.raises(SystemExit, match='unknown upsampler'):
        bench.main(['--only', 'NoSuchUpsampler'])
    with pytest.raises(SystemExit, match='expected key=value'):
        bench.main(['--variant', 'JBU-pre', 'JBUStack', 'radius'])


def test_tiny_cost_run_writes_table_plot_and_json(bench, tmp_path):
    out = tmp_path / 'bench'
    result = bench.main(['--sizes', '4x6:8x12', '5x5:12x12', '--channels', '4', '--repeats', '1',
                         '--device', 'cpu', '--only', 'Bilinear', 'CARAFE', '--out', str(out)])
    rows = {(r['name'], r['output']): r for r in result['cost']}
    assert set(rows) == {('Bilinear', (8, 12)), ('CARAFE', (8, 12)), ('Bilinear', (12, 12)),
                         ('CARAFE', (12, 12))}
    assert 'integer ratio' in rows['CARAFE', (12, 12)]['note']
    carafe, bilinear = rows['CARAFE', (8, 12)], rows['Bilinear', (8, 12)]
    assert carafe['params'] > 0 and bilinear['params'] == 0
    assert carafe['flops'] > bilinear['flops'] > 0
    assert carafe['fwd_ms'] > 0 and carafe['fwdbwd_ms'] > 0 and carafe['peak_fwdbwd_mb'] > 0
    text = (out / 'results.md').read_text()
    assert '| CARAFE |' in text and 'ops backend' in text
    assert (out / 'speed_vs_quality.png').stat().st_size > 1000
    assert json.loads((out / 'results.json').read_text())['cost']


@pytest.mark.slow
def test_cost_only_run_covers_every_registered_upsampler(bench, tmp_path):
    from mmfeatup.registry import UPSAMPLERS
    out = tmp_path / 'bench'
    result = bench.main(['--sizes', '4x6:8x12', '5x5:12x12', '--channels', '4', '--repeats', '1',
                         '--device', 'cpu', '--out', str(out)])
    names = sorted(UPSAMPLERS.module_dict)
    rows = result['cost']
    assert sorted({r['name'] for r in rows}) == names
    assert len(rows) == 2 * len(names)
    for row in rows:
        if 'note' in row:  # only fixed-ratio modules may refuse, and only the x2.4 size
            assert UPSAMPLERS.get(row['name']).fixed_ratio
            assert row['output'] == (12, 12)
            continue
        assert row['fwd_ms'] > 0 and row['fwdbwd_ms'] > 0
        assert row['params'] >= 0 and row['peak_fwdbwd_mb'] >= 0
    assert all(r.get('flops') is not None for r in rows if 'note' not in r), 'a trace failed'


@pytest.mark.slow
def test_tiny_recon_and_probe_run_trains_once_and_draws_curves(bench, tmp_path):
    out = tmp_path / 'bench'
    result = bench.main(['--sizes', '4x4:16x16', '--channels', '4', '--repeats', '1', '--device',
                         'cpu', '--quality', 'recon', 'probe', '--only', 'Bilinear', 'ResizeConv',
                         '--iters', '2', '--curve-every', '1', '--seeds', '0', '1', '--views', '1',
                         '--recon-crop', '64', '--recon-batch', '1', '--probe-size', '64',
                         '--probe-steps', '3', '--probe-pixels', '16', '--workers', '2',
                         '--out', str(out)])
    recon, probe = result['recon'], result['probe']
    assert len(recon['Bilinear']['rel_mse']) == 1  # parameter-free: scored once
    assert recon['ResizeConv']['seeds'] == [0, 1]  # trained once per seed, in seed order
    assert all(v > 0 for v in recon['ResizeConv']['rel_mse'])
    from mmfeatup.apis import evaluate_reconstruction
    from mmfeatup.benchmark.specs import REPO
    from mmfeatup.benchmark.trained import frozen_upsampler
    from mmfeatup.models.featurizers import build_featurizer
    featurizer = build_featurizer('efficientnet_lite0_s16').eval()
    for seed, curve in enumerate(recon['ResizeConv']['curve']):
        assert [p['iter'] for p in curve] == [0, 1, 2]
        # the saved upsampler is the scored one: scored again, the same held-out error
        saved = frozen_upsampler(dict(type='ResizeConv', scale_factor=16), featurizer,
                                 str(out / 'upsamplers' / f'ResizeConv_seed{seed}.pth'),
                                 dict(seed=seed, iters=2))
        again = evaluate_reconstruction(saved, featurizer, f'{REPO}/data/photos/heldout',
                                        n_views=1, seed=0, crop_size=64)
        # float32 sums: the worker ran on one thread, this process on several
        assert again['rel_mse'] == pytest.approx(recon['ResizeConv']['rel_mse'][seed], rel=1e-6)
        assert curve[-1]['rel_mse'] == recon['ResizeConv']['rel_mse'][seed]
    # the probe used the recon runs' upsamplers instead of training them again
    assert probe['ResizeConv']['reused'] == [True, True]
    assert probe['Bilinear']['reused'] == [False, False] and len(probe['Bilinear']['mIoU']) == 2
    text = (out / 'results.md').read_text()
    assert 'recon rel-MSE' in text and '### Learning curves' in text and '| ResizeConv | ' in text
    assert (out / 'learning_curves.png').stat().st_size > 1000
    # --render-only rewrites the same report from results.json, measuring nothing
    (out / 'learning_curves.png').unlink()
    again = bench.main(['--render-only', '--out', str(out)])
    assert (out / 'results.md').read_text() == text and again['recon'] == recon
    assert (out / 'learning_curves.png').is_file()


def test_pretrained_variant_is_a_row_of_its_own(bench, tmp_path):
    """A FeatUp-pretrained JBU (--variant ... checkpoint=...) next to the untrained one."""
    import torch

    from mmfeatup.models.upsamplers import JBUStack
    trained = JBUStack(4)
    with torch.no_grad():
        trained.up1.sigma_spatial.fill_(0.3)
    path = tmp_path / 'upsampler.pth'
    torch.save(trained.state_dict(), path)
    out = tmp_path / 'bench'
    result = bench.main(['--sizes', '4x4:16x16', '--channels', '4', '--repeats', '1', '--device',
                         'cpu', '--only', 'JBUStack', '--variant', 'JBU-pre', 'JBUStack',
                         f'checkpoint={path}', '--out', str(out)])
    rows = {row['name']: row for row in result['cost']}
    assert set(rows) == {'JBUStack', 'JBU-pre'}
    assert rows['JBU-pre']['params'] == rows['JBUStack']['params']
    text = (out / 'results.md').read_text()
    assert '| JBU-pre |' in text and f"'checkpoint': '{path}'" in text


@pytest.mark.slow
def test_tiny_seg_run_trains_validates_and_reports(bench, tmp_path):
    """The segmentation part end to end: dataset made when missing, 1 iteration, metrics."""
    out = tmp_path / 'bench'
    result = bench.main(['--sizes', '4x4:16x16', '--channels', '4', '--repeats', '1', '--device',
                         'cpu', '--quality', 'seg', '--only', 'Bilinear', '--seg-only', 'Bilinear',
                         '--seg-iters', '1', '--seeds', '0',
                         '--seg-data-root', str(tmp_path / 'ade_demo'), '--out', str(out)])
    entry = result['seg']['Bilinear']
    assert 'error' not in entry, entry.get('error')
    assert entry['seeds'] == [0]
    assert 0 <= entry['mIoU'][0] <= 100 and 0 <= entry['bF'][0] <= 100
    assert len(entry['bPrecision']) == len(entry['bRecall']) == 1
    assert 'effnet-lite0_jbu_ade-demo-128x128.py' in (out / 'results.md').read_text()


@pytest.mark.slow
def test_jbu_targets_table_measures_every_figure_against_its_floor(tmp_path):
    """Run as a user would, from a directory outside the repository."""
    import os.path as osp
    import subprocess
    import sys
    tool = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
                    'analysis_tools', 'benchmark_jbu_targets.py')
    out = subprocess.run([sys.executable, tool, '--threads', '1', '--repeats', '1', '--channels',
                          '4', '--skip-segformer', '--fused-pairs', '2'], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [line.split(' | ') for line in out.stdout.splitlines() if line.startswith('| JBU')
            or line.startswith('| one JBU')]
    assert len(rows) == 5 and 'measured peaks' in out.stdout
    for row in rows:
        measured, floor = float(row[1].split()[0]), float(row[3].split()[0])
        assert measured > 0 and floor > 0, row
    # the 448^2 / 224^2 floor is the FLOP ratio of a x16 JBUStack on 4x the pixels
    assert 3.9 < float(rows[3][3].split()[0]) < 5
    for what in ('forward (eval, no_grad)', 'forward + backward (train)'):
        assert f'JBUStack {what} (C=4, 14->224), 2 alternating pairs: fused ' in out.stdout
    ratios = [part.split(',')[0] for part in
              out.stdout.split('fused / two-step per pair: median ')[1:]]
    assert len(ratios) == 2 and all(float(ratio) > 0 for ratio in ratios)
