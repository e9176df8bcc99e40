"""mmfeatup.benchmark.plot: the figure is readable for every --quality choice."""
import pytest

from mmfeatup.benchmark.plot import draw_plot, plot


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
def test_plot_is_readable_for_every_quality_choice(tmp_path, quality):
    """Every point/bar has its own position, the axes say what is plotted and no two labels
    overlap, whatever --quality ran (none used to draw every point at y=0, labels on top of
    each other)."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    names, cost, recon, seg = _synthetic_results()
    recon = recon if quality in ('recon', 'all') else {}
    seg = seg if quality in ('seg', 'all') else {}
    fig = draw_plot(cost, recon, seg)
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
    assert plot(str(path), cost, recon, seg)
    assert path.stat().st_size > 1000
    assert not plot(str(path), [cost[-1]], recon, seg)  # no latency at all: no plot


def test_probe_results_get_their_own_panel_beside_reconstruction():
    """--quality recon probe: two panels, the probe's y axis is its mIoU, one label per upsampler
    with a probe result (the ones without stay off that panel)."""
    import matplotlib.pyplot as plt

    names, cost, recon, _ = _synthetic_results()
    probe = {n: dict(mIoU=[60.0 + i, 61.0 + i]) for i, n in enumerate(names[:6])}
    fig = draw_plot(cost, recon, {}, probe)
    axes = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [('rel-MSE' in ax.get_ylabel(), 'probe' in ax.get_title()) for ax in axes] == [
        (True, False), (False, True)]
    probe_ax = axes[1]
    assert 'mIoU' in probe_ax.get_ylabel() and 'mIoU' in probe_ax.get_title()
    labelled = {t.get_text(): t.xy[1] for t in probe_ax.texts if t.get_text() in names}
    assert sorted(labelled) == sorted(probe)
    for name, y in labelled.items():  # each point at its seed mean
        assert abs(y - sum(probe[name]['mIoU']) / 2) < 1e-9
    plt.close(fig)


def _points(pairs):
    return [dict(iter=step, rel_mse=value) for step, value in pairs]


def test_learning_curves_plot_the_trained_rows_only(tmp_path):
    """plot_curves: a figure when a trained row has two or more curve points (a parameter-free
    row beside it is a reference line); a single point or parameter-free rows alone -> no file."""
    from mmfeatup.benchmark.plot import plot_curves

    recon = {'JBUStack': dict(trained=True, rel_mse=[0.5],
                              curve=[_points([(0, 0.9), (50, 0.6), (100, 0.5)]),
                                     _points([(0, 0.8), (50, 0.62), (100, 0.52)])]),
             'Bilinear': dict(trained=False, rel_mse=[0.55])}
    path = tmp_path / 'curves.png'
    assert plot_curves(str(path), recon)
    assert path.stat().st_size > 1000
    empty = tmp_path / 'none.png'
    single = {'Bilinear': recon['Bilinear'],
              'DySample': dict(trained=True, curve=[_points([(0, 0.7)])])}
    assert not plot_curves(str(empty), single)
    assert not empty.exists()
