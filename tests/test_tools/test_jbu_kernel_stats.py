"""tools/analysis_tools/jbu_kernel_stats.py: how far a JBU's filters move from its Gaussian."""
import pytest
import torch

from mmfeatup.registry import build_upsampler


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis_tools/jbu_kernel_stats.py')


def _two_colour_image(size=(40, 48)):
    """Left half dark, right half bright: one vertical edge."""
    image = torch.zeros(1, 3, *size)
    image[..., size[1] // 2:] = 1.0
    return image


def _stack(range_temp: float, fixup: bool):
    torch.manual_seed(0)
    stack = build_upsampler(dict(type='JBUStack', num_stages=2), in_channels=1).eval()
    with torch.no_grad():
        for index in range(2):
            stage = stack.stage(index)
            stage.range_temp.fill_(range_temp)
            if not fixup:
                stage.fixup_proj[-1].weight.zero_()
                stage.fixup_proj[-1].bias.zero_()
    return stack


def test_no_range_term_and_no_fixup_is_a_fixed_blur(tool):
    rows = tool.stage_stats(_stack(-30.0, fixup=False), _two_colour_image(), (10, 12))
    assert [row['size'] for row in rows] == ['20x24', '40x48']
    for row in rows:
        assert row['range_tv'] < 1e-4 and row['range_tv_edges'] < 1e-4  # tau clamps at 1e-4
        assert row['fixup_tv'] == 0 and row['fixup_tv_edges'] == 0
        assert row['tau'] == pytest.approx(1e-4)


def test_a_sharp_range_term_moves_mass_at_the_edge_only(tool):
    stack = _stack(6.0, fixup=True)
    with torch.no_grad():  # keys that tell the two colours apart
        for index in range(2):
            first = stack.stage(index).range_proj[0]
            first.weight.fill_(1.0)
            first.bias.fill_(-1.5)
    rows = tool.stage_stats(stack, _two_colour_image(), (10, 12))
    for row in rows:
        assert row['range_tv_edges'] > 0.2
        assert row['range_tv_edges'] > 3 * row['range_tv']  # flat regions stay a blur
        assert row['fixup_tv'] > 0  # the (random) fixup is measured, not folded in


def test_bad_input_is_named(tool):
    with pytest.raises(ValueError, match='guidance'):
        tool.stage_stats(_stack(0.0, True), torch.zeros(2, 3, 40, 48), (10, 12))
    with pytest.raises(ValueError, match='upsampler'):
        tool.stage_stats(build_upsampler(dict(type='Bilinear'), in_channels=1),
                         _two_colour_image(), (10, 12))
    with pytest.raises(ValueError, match='needs 3 stages'):
        tool.stage_stats(_stack(0.0, True), _two_colour_image(), (5, 6))
    with pytest.raises(ValueError, match='flat'):
        tool.stage_stats(_stack(0.0, True), torch.ones(1, 3, 40, 48), (10, 12))


def test_command_line_reads_weights_and_the_untrained_start(tool, tmp_path, capsys):
    """main(): one table per checkpoint; 'init' is the untrained stack (seed 0, so repeatable);
    trained weights give other numbers than the start."""
    from PIL import Image
    from skimage import data
    for name in ('astronaut', 'coffee'):
        Image.fromarray(getattr(data, name)()).save(tmp_path / f'{name}.png')
    torch.manual_seed(1)
    trained = build_upsampler(dict(type='JBUStack'), in_channels=4)
    with torch.no_grad():
        for index in range(4):
            trained.stage(index).range_temp.fill_(3.0)
    torch.save(dict(state_dict=trained.state_dict()), tmp_path / 'jbu.pth')
    results = tool.main(['init', 'init', str(tmp_path / 'jbu.pth'), '--images', str(tmp_path),
                         '--size', '64'])  # stride 16: 4x4 -> 64x64, four stages
    assert len(results) == 3 and [len(r) for r in results] == [4, 4, 4]
    assert results[0] == results[1]
    assert results[2][0]['tau'] == pytest.approx(torch.tensor(3.0).exp().item(), rel=1e-5)
    assert results[2][0]['range_tv'] != results[0][0]['range_tv']
    assert capsys.readouterr().out.count('| stage |') == 3
    # the printed figures are the per-image figures averaged over the images
    from mmfeatup.apis import load_eval_images
    from mmfeatup.models.featurizers import build_featurizer
    featurizer = build_featurizer('efficientnet_lite0_s16').eval()
    torch.manual_seed(0)
    start = build_upsampler(dict(type='JBUStack'), in_channels=1).eval()
    per_image = [tool.stage_stats(start, featurizer.normalize(image[None]), (4, 4))
                 for image in load_eval_images(str(tmp_path), 64)]
    for stage in range(4):
        for key in ('range_tv', 'range_tv_edges', 'fixup_tv', 'fixup_tv_edges'):
            mean = sum(rows[stage][key] for rows in per_image) / 2
            assert results[0][stage][key] == pytest.approx(mean, rel=1e-12)
