"""The upsampler benchmark runs end to end on a tiny size and writes its outputs."""
import json

import pytest


@pytest.fixture(scope='module')
def bench(load_tool):
    return load_tool('analysis_tools/benchmark_upsamplers.py')


def test_parse_size(bench):
    assert bench.parse_size('14x14:224x200') == ((14, 14), (224, 200))
    with pytest.raises(Exception, match='14x14:224x224'):
        bench.parse_size('14:224')


def test_fixed_ratio_upsamplers_get_their_ratio_or_a_clear_note(bench):
    assert bench.upsampler_cfg('CARAFE', (4, 6), (16, 24)) == dict(type='CARAFE', scale_factor=4)
    with pytest.raises(ValueError, match='integer ratio'):
        bench.upsampler_cfg('CARAFE', (5, 5), (12, 12))
    assert bench.upsampler_cfg('DySample', (5, 5), (12, 12))['scale_factor'] == 2


def test_unknown_name_is_rejected(bench):
    with pytest.raises(SystemExit, match='unknown upsampler'):
        bench.select_names(['NoSuchUpsampler'], [])


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
            assert UPSAMPLERS.get(row['name']).integer_ratio_only
            assert row['output'] == (12, 12)
            continue
        assert row['fwd_ms'] > 0 and row['fwdbwd_ms'] > 0
        assert row['params'] >= 0 and row['peak_fwdbwd_mb'] >= 0
    assert all(r.get('flops') is not None for r in rows if 'note' not in r), 'a trace failed'


@pytest.mark.slow
def test_tiny_recon_run_trains_and_scores(bench, tmp_path):
    out = tmp_path / 'bench'
    result = bench.main(['--sizes', '4x4:16x16', '--channels', '4', '--repeats', '1', '--device',
                         'cpu', '--quality', 'recon', '--only', 'Bilinear', 'ResizeConv',
                         '--iters', '1', '--seeds', '0', '1', '--views', '1', '--recon-crop', '64',
                         '--recon-batch', '1', '--out', str(out)])
    recon = result['recon']
    assert len(recon['Bilinear']['rel_mse']) == 1  # parameter-free: scored once
    assert len(recon['ResizeConv']['rel_mse']) == 2  # trained once per seed
    assert all(v > 0 for v in recon['ResizeConv']['rel_mse'])
    assert 'recon rel-MSE' in (out / 'results.md').read_text()


def test_variant_parsing(bench):
    label, spec = bench.parse_variant(['JBU-pre', 'JBUStack', 'checkpoint=a/b.pth', 'radius=2'])
    assert label == 'JBU-pre' and spec == dict(type='JBUStack', checkpoint='a/b.pth', radius=2)
    assert bench.spec_of('JBU-pre', {label: spec}) == spec
    assert bench.spec_of('Bilinear', {label: spec}) == dict(type='Bilinear')
    for bad in (['JBU-pre'], ['JBU-pre', 'NoSuchUpsampler'], ['JBU-pre', 'JBUStack', 'radius'],
                ['JBU-pre', 'JBUStack', 'type=Bilinear']):
        with pytest.raises(ValueError):
            bench.parse_variant(bad)
    with pytest.raises(SystemExit, match='registered names'):
        bench.select_names(None, [], {'Bilinear': dict(type='JBUStack')})
    assert bench.select_names(['Bilinear'], [], {label: spec}) == ['Bilinear', 'JBU-pre']


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
    seg = bench.seg_config(bench.default_seg_config(), bench.spec_of('JBU-pre', {
        'JBU-pre': dict(type='JBUStack', checkpoint=str(path))}), 0, 2, str(tmp_path / 's'),
        str(tmp_path / 'data'))
    assert seg.model.neck.upsampler == dict(type='JBUStack', checkpoint=str(path))


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


def _synthetic_results():
    """Cost rows of 12 upsamplers (several with nearly equal latency) and quality results
    whose points crowd together, as parameter-free upsamplers do."""
    names = ['Bilinear', 'Bicubic', 'Nearest', 'JBUStack', 'JBUFused', 'CARAFE', 'DySample',
             'FADE', 'SAPA', 'IFA', 'Deconv', 'JBU-pre']
    latency = [0.20, 0.21, 0.19, 8.0, 7.8, 2.1, 1.0, 2.2, 2.15, 30.0, 0.9, 8.05]
    cost = [dict(name=n, source=(14, 14), output=(224, 224), channels=384, batch=1,
                 device='cpu', guidance='-', params=i * 1000, flops=(i + 1) * 1e8,
                 fwd_ms=ms, fwdbwd_ms=3 * ms, peak_fwd_mb=1.0, peak_fwdbwd_mb=2.0)
            for i, (n, ms) in enumerate(zip(names, latency))]
    cost.append(dict(name='CARAFE', source=(5, 5), output=(12, 12), channels=384, batch=1,
                     device='cpu', note='needs an integer ratio'))
    recon = {n: dict(rel_mse=[0.50 + 0.001 * i, 0.501 + 0.001 * i]) for i, n in enumerate(names)}
    seg = {n: dict(mIoU=[30.0 + 0.05 * i], bF=[20.0 + (i % 3)]) for i, n in enumerate(names[:5])}
    return names, cost, recon, seg


@pytest.mark.parametrize('quality', ['none', 'recon', 'seg', 'all'])
def test_plot_is_readable_for_every_quality_choice(bench, tmp_path, quality):
    """Every point/bar has its own position, the axes say what is plotted and no two labels
    overlap, whatever --quality ran (none used to draw every point at y=0, labels on top of
    each other)."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    assert bench.parse_args(['--quality', quality]).quality == quality  # a real choice
    names, cost, recon, seg = _synthetic_results()
    recon = recon if quality in ('recon', 'all') else {}
    seg = seg if quality in ('seg', 'all') else {}
    fig = bench.draw_plot(cost, recon, seg)
    fig.canvas.draw()  # places the annotations
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.get_xlabel()]
    expected_panels = {'none': 1, 'recon': 1, 'seg': 2, 'all': 3}[quality]
    assert len(axes) == expected_panels
    for ax in axes:
        assert 'ms' in ax.get_xlabel() and '14x14 -> 224x224' in ax.get_xlabel()
        assert ax.get_ylabel()
        labels = [t for t in ax.texts if t.get_text() in names]
        if quality == 'none':  # bars: one row per upsampler, y tick labels name them
            ticks = [t.get_text().split()[0] for t in ax.get_yticklabels()]
            assert sorted(ticks) == sorted(names)
            ys = [round(p.get_y(), 6) for p in ax.patches]
            assert len(set(ys)) == len(ys) == 2 * len(names)
            widths = [p.get_width() for p in ax.patches]
            assert len(set(widths)) > 1
            boxes = [t.get_window_extent(renderer) for t in ax.get_yticklabels()] + [
                t.get_window_extent(renderer) for t in ax.texts]
        else:  # one labelled point per upsampler with a result, y = the quality measure
            measured = recon if 'rel-MSE' in ax.get_ylabel() else seg
            assert sorted(t.get_text() for t in labels) == sorted(measured)
            ys = [t.xy[1] for t in labels]
            assert max(ys) > min(ys)
            assert len({t.xy for t in labels}) == len(labels)
            boxes = [Text.get_window_extent(t, renderer) for t in labels]
            for label, box in zip(labels, boxes):  # each label stays next to its point
                x, y = ax.transData.transform(label.xy)
                assert box.x0 - 60 < x < box.x1 + 60 and box.y0 - 60 < y < box.y1 + 60
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not (a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1), \
                    'two labels overlap'
    plt.close(fig)
    path = tmp_path / f'plot_{quality}.png'
    assert bench.plot(str(path), cost, recon, seg)
    assert path.stat().st_size > 1000
    assert not bench.plot(str(path), [cost[-1]], recon, seg)  # no latency at all: no plot
