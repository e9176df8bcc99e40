"""tools/analysis_tools/upsampler_alignment.py: impulse centroids under flat guidance."""
import pytest
import torch

from mmfeatup.registry import build_upsampler


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis_tools/upsampler_alignment.py')


@pytest.mark.parametrize('name', ['Bilinear', 'Bicubic', 'JBUFused'])
def test_symmetric_upsamplers_keep_features_in_place(tool, name):
    torch.manual_seed(0)
    stats = tool.impulse_shifts(build_upsampler(dict(type=name), in_channels=1), (8, 10), (40, 30))
    assert abs(stats['mean_dy']) < 1e-9 and abs(stats['mean_dx']) < 1e-9
    assert abs(stats['mass'] - 1) < 0.02


def test_a_shift_is_detected(tool):
    class Shifted(torch.nn.Module):
        def forward(self, source, guidance, output_size):
            out = torch.nn.functional.interpolate(source, size=output_size, mode='nearest')
            return torch.roll(out, shifts=2, dims=-1)

    stats = tool.impulse_shifts(Shifted(), (8, 8), (32, 32))
    assert abs(stats['mean_dx'] - 2) < 1e-9 and abs(stats['mean_dy']) < 1e-9


def test_table_runs(tool, capsys):
    rows = tool.main(['--source', '6', '--output', '12', '--upsamplers', 'Bilinear', 'JBUStack',
                      '--seeds', '0'])
    assert [r['upsampler'] for r in rows] == ['Bilinear', 'JBUStack']
    assert '| Bilinear | - | +0.000 | +0.000 |' in capsys.readouterr().out
    with pytest.raises(ValueError, match='no cell'):
        tool.impulse_shifts(build_upsampler(dict(type='Bilinear'), in_channels=1), (4, 4), (8, 8))
