import pytest
import torch

from mmfeatup.models.featup import (AttentionDownsampler, SimpleDownsampler, area_downsample,
                                    build_downsampler)


def test_simple_kernel_sums_to_one_and_is_non_negative():
    down = SimpleDownsampler(stride=4, kernel_size=6)
    with torch.no_grad():
        down.kernel_params.copy_(torch.randn(6, 6))
    kernel = down.get_kernel()
    assert kernel.shape == (6, 6)
    assert torch.all(kernel >= 0)
    assert torch.allclose(kernel.sum(), torch.tensor(1.0))
    constant = torch.full((2, 3, 20, 24), 2.5)
    assert torch.allclose(down(constant, (5, 6)), torch.full((2, 3, 5, 6), 2.5), atol=1e-5)


def test_simple_init_is_area_pooling():
    hr = torch.randn(2, 3, 32, 48)
    down = SimpleDownsampler(stride=8)
    assert torch.allclose(down(hr, (4, 6)), area_downsample(hr, (4, 6), 8), atol=1e-6)
    assert torch.allclose(area_downsample(hr, (4, 6), 8), hr.view(2, 3, 4, 8, 6, 8).mean((3, 5)),
                          atol=1e-6)


def test_odd_sizes_are_resized_to_the_grid():
    hr = torch.randn(1, 5, 97, 75)
    for down in (SimpleDownsampler(16, 20), AttentionDownsampler(5, 16, 20)):
        assert down(hr, (7, 5)).shape == (1, 5, 7, 5)
    assert area_downsample(hr, (7, 5), 16).shape == (1, 5, 7, 5)


def test_attention_shapes_and_weights():
    down = AttentionDownsampler(channels=6, stride=4, kernel_size=6).eval()
    hr = torch.randn(2, 6, 16, 12)
    out = down(hr, (4, 3))
    assert out.shape == (2, 6, 4, 3)
    attn = down.attention(torch.randn(2, 12, 36, 6))
    assert attn.shape == (2, 12, 36)
    assert torch.allclose(attn.sum(-1), torch.ones(2, 12), atol=1e-5)
    constant = torch.full((1, 6, 16, 12), -1.5)
    assert torch.allclose(down(constant, (4, 3)), torch.full((1, 6, 4, 3), -1.5), atol=1e-5)
    out.sum().backward()
    assert down.w.grad is not None and down.attention_net[1].weight.grad is not None


def test_bad_configs_and_inputs():
    with pytest.raises(ValueError, match='kernel_size'):
        SimpleDownsampler(stride=8, kernel_size=4)
    with pytest.raises(ValueError, match='downsampler type'):
        build_downsampler(dict(type='max'), 4, 8)
    with pytest.raises(ValueError, match='smaller than the target grid'):
        SimpleDownsampler(4)(torch.rand(1, 2, 3, 3), (4, 4))
    with pytest.raises(ValueError, match='channels'):
        AttentionDownsampler(4, 4)(torch.rand(1, 3, 8, 8), (2, 2))
    assert isinstance(build_downsampler(dict(type='attention', kernel_size=10), 4, 8),
                      AttentionDownsampler)


def test_gaussian_blur_is_the_authors_5x5_sigma1_reflect_blur():
    """kornia's gaussian_blur2d(x, 5, (1., 1.)) (reflect border) by definition; checked against
    kornia 0.8.1 itself to 4e-16 in float64 (docs/featup_training.md)."""
    from mmfeatup.models.featup.downsamplers import gaussian_blur
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    g = torch.exp(-torch.arange(-2, 3, dtype=torch.float64).square() / 2)
    kernel = torch.outer(g, g) / torch.outer(g, g).sum()
    padded = torch.nn.functional.pad(x, [2] * 4, mode='reflect')
    expected = torch.nn.functional.conv2d(padded, kernel.expand(3, 1, 5, 5), groups=3)
    torch.testing.assert_close(gaussian_blur(x), expected, rtol=0, atol=1e-14)
    constant = torch.full((1, 2, 7, 8), 3.0, dtype=torch.float64)
    torch.testing.assert_close(gaussian_blur(constant), constant)


def test_attention_blurs_and_drops_window_logits_in_training_only():
    torch.manual_seed(0)
    hr = torch.randn(2, 6, 16, 12)
    down = AttentionDownsampler(channels=6, stride=4)
    plain = AttentionDownsampler(channels=6, stride=4, blur=False, window_dropout=0.0)
    plain.load_state_dict(down.state_dict())
    down.eval(), plain.eval()
    from mmfeatup.models.featup.downsamplers import gaussian_blur
    torch.testing.assert_close(down(hr, (4, 3)), plain(gaussian_blur(hr), (4, 3)))
    assert torch.equal(down(hr, (4, 3)), down(hr, (4, 3)))  # eval: no mask, deterministic
    down.train()
    down.attention_net[0].p = 0.0  # isolate the window mask from the feature dropout
    with torch.no_grad():
        down.attention_net[1].weight.fill_(1.0)
    patches = torch.randn(1, 400, 16, 6)
    torch.manual_seed(1)
    attn = down.attention(patches)
    # a masked window's logits are zeroed: its weights are softmax(b) whatever the features
    prior = torch.softmax(down.b, -1)
    masked = torch.isclose(attn, prior.expand_as(attn), atol=1e-6).all(-1)
    assert 0.1 < masked.float().mean() < 0.3  # ~ window_dropout = 0.2
    with pytest.raises(ValueError, match='window_dropout'):
        AttentionDownsampler(6, 4, window_dropout=1.0)
