import pytest
import torch

from mmfeatup.models.featup import FourierFeatures, ImplicitFeatUp, PCAProjector, minmax_scale


def test_minmax_scale_range():
    image = torch.rand(2, 3, 5, 7) * 3 + 1
    scaled = minmax_scale(image)
    assert torch.allclose(scaled.flatten(1).min(1)[0], torch.full((2, ), -0.5))
    assert torch.allclose(scaled.flatten(1).max(1)[0], torch.full((2, ), 0.5))


def test_fourier_features_channels_and_values():
    fourier = FourierFeatures(n_freqs=4)
    assert fourier.out_channels == 2 * 4 * 5 + 3
    with torch.no_grad():
        fourier.phase.zero_()
    image = torch.rand(1, 3, 3, 4) - 0.5
    out = fourier(image)
    assert out.shape == (1, 43, 3, 4)
    # first channel: sin(freq0 * y) with y = -1 at the top row
    freq0 = torch.exp(torch.tensor(-2.0))
    assert torch.allclose(out[0, 0, 0], torch.sin(-freq0).expand(4), atol=1e-6)
    assert torch.equal(out[:, -3:], image)


def test_implicit_net_any_size():
    net = ImplicitFeatUp(out_dim=8, hidden=16, n_freqs=5).eval()
    image = torch.rand(1, 3, 20, 30)
    assert net(image).shape == (1, 8, 20, 30)
    assert net(image, (11, 17)).shape == (1, 8, 11, 17)
    with pytest.raises(ValueError, match=r'\[B, 3, H, W\]'):
        net(torch.rand(1, 1, 8, 8))


def test_pca_projector_round_trip():
    torch.manual_seed(0)
    basis = torch.randn(3, 10)
    feats = (torch.randn(4, 6, 5, 3) @ basis).permute(0, 3, 1, 2) + 2.0  # rank 3 in 10 dims
    pca = PCAProjector(feats, dim=3)
    assert pca.dim == 3
    assert torch.allclose(pca.unproject(pca.project(feats)), feats, atol=1e-4)
    assert PCAProjector(feats, dim=50).dim == 10
    # fewer feature vectors than wanted components: a clear error, not a copy_ size mismatch
    with pytest.raises(ValueError, match='more views'):
        PCAProjector(torch.randn(1, 10, 2, 2), dim=8)
