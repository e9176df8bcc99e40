"""The upsampler benchmark counts the mmfeatup ops with the package's handles (one copy)."""
import pytest
import torch


@pytest.fixture(scope='module')
def bench():
    from mmfeatup.benchmark import cost
    return cost


def test_benchmark_keeps_no_private_formulas(bench, load_tool):
    tool = load_tool('analysis_tools/benchmark_upsamplers.py')
    for module in (bench, tool):
        for name in ('_shape', '_adaptive_conv_flops', '_range_kernel_flops',
                     '_jbu_upsample_flops'):
            assert not hasattr(module, name), name


@pytest.mark.parametrize('kind', ['JBUStack', 'JBUFused'])
def test_benchmark_counts_the_jbu_ops_without_default_registration(
        bench, compiled_ops, default_tables, monkeypatch, kind):
    """``count_flops`` sets the package's handles itself (clean default tables here)."""
    import mmfeatup.analysis
    from mmfeatup.registry import build_upsampler
    model = build_upsampler(dict(type=kind, scale_factor=2), in_channels=4).eval()
    source, guidance = torch.randn(1, 4, 5, 6), torch.rand(1, 3, 10, 12)
    with torch.no_grad():  # warm the model's caches: the first trace records their set-up
        model(source, guidance, output_size=(10, 12))
    total, uncounted = bench.count_flops(model, source, guidance, (10, 12))
    assert 'mmfeatup' not in uncounted
    # the same count with the package's handles returning 0: the ops' share is the difference
    zeroed = {op: (lambda i, o: 0) for op in mmfeatup.analysis.flop_handle_table()}
    monkeypatch.setattr(mmfeatup.analysis, 'flop_handle_table', lambda: zeroed)
    rest, _ = bench.count_flops(model, source, guidance, (10, 12))
    # one stage 10x12, T = 49, C = 4, key_dim 32, by hand: adaptive convolution + range kernel;
    # JBUStack's eval forward (traced without autograd) runs bicubic_adaptive_conv, which also
    # counts the resize of the 16x18 padded map (JBUFused resizes outside its op)
    resize = 8 * 4 * 16 * 18 if kind == 'JBUStack' else 0
    assert total - rest == 1 * 4 * 10 * 12 * 49 + resize + 1 * 49 * 10 * 12 * 32
