"""mmfeatup.utils.visualization: joint PCA to RGB and side-by-side figures."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmfeatup.utils import edge_alignment, fit_joint_pca, pca_to_rgb, save_feature_figure


def structured_features(channels=16, size=8, seed=0):
    """Features dominated by three known orthogonal directions."""
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(channels, 3, generator=gen, dtype=torch.float64))
    coeffs = torch.randn(2, 3, size, size, generator=gen, dtype=torch.float64)
    coeffs = coeffs * torch.tensor([5.0, 2.0, 1.0], dtype=torch.float64).view(1, 3, 1, 1)
    feats = torch.einsum('ck,bkhw->bchw', basis, coeffs)
    feats = feats + 0.01 * torch.randn(feats.shape, generator=gen, dtype=torch.float64) + 3.0
    return feats.float(), basis


def test_joint_pca_recovers_directions():
    feats, basis = structured_features()
    pca = fit_joint_pca([feats, F.interpolate(feats, scale_factor=2.0, mode='nearest')])
    comps = pca.components
    assert comps.shape == (16, 3)
    torch.testing.assert_close(comps.T @ comps, torch.eye(3, dtype=comps.dtype), atol=1e-8,
                               rtol=0)
    # ordered by variance: component k spans basis k (up to sign)
    overlaps = (comps.T @ basis).abs()
    assert torch.all(overlaps.diagonal() > 0.99)
    # deterministic sign: largest-magnitude entry of every component is positive
    assert torch.all(comps.gather(0, comps.abs().argmax(0, keepdim=True)) > 0)
    torch.testing.assert_close(pca.mean.float(), feats.mean((0, 2, 3)), atol=1e-4, rtol=0)


def test_shared_colours_and_range():
    feats, _ = structured_features(seed=1)
    upsampled = F.interpolate(feats, scale_factor=4.0, mode='nearest')
    before = torch.random.get_rng_state()
    (low_rgb, high_rgb), pca = pca_to_rgb([feats, upsampled])
    assert torch.equal(torch.random.get_rng_state(), before)  # no global RNG use
    assert low_rgb.shape == (2, 3, 8, 8) and high_rgb.shape == (2, 3, 32, 32)
    for rgb in (low_rgb, high_rgb):
        assert rgb.min() >= 0 and rgb.max() <= 1 and rgb.std() > 0.1
    # one PCA and one scaling: equal features get equal colours in both maps
    torch.testing.assert_close(F.interpolate(low_rgb, scale_factor=4.0, mode='nearest'),
                               high_rgb)
    # a map coloured alone is scaled differently: sharing matters
    (alone, ), _ = pca_to_rgb([feats * 0.5 + 1.0], pca=pca)
    assert not torch.allclose(alone, low_rgb)


def test_bad_inputs():
    with pytest.raises(ValueError, match='channel'):
        fit_joint_pca([torch.randn(1, 4, 3, 3), torch.randn(1, 5, 3, 3)])
    with pytest.raises(ValueError, match='n_components'):
        fit_joint_pca([torch.randn(1, 2, 3, 3)], n_components=3)
    with pytest.raises(ValueError, match='features'):
        fit_joint_pca([])
    with pytest.raises(ValueError, match=r'features\[0\]'):
        pca_to_rgb([torch.randn(4, 4)])
    with pytest.raises(ValueError, match='panels'):
        save_feature_figure([], '/tmp/never.png')


def test_save_feature_figure(tmp_path):
    from PIL import Image
    image = torch.rand(1, 3, 40, 40)
    lowres = np.zeros((5, 5, 3), dtype=np.uint8)
    lowres[::2, ::2] = 255
    path = save_feature_figure([('image', image), ('low', lowres), ('up', image[0] * 0.5)],
                               str(tmp_path / 'sub' / 'fig.png'), title='a title',
                               panel_inches=2.0, dpi=50)
    with Image.open(path) as img:
        assert img.format == 'PNG'
        width, height = img.size
        pixels = np.asarray(img.convert('RGB'))
    assert width == 3 * 2 * 50 and height > 2 * 50
    assert pixels.std() > 10  # something was drawn


def test_edge_alignment_ranks_edge_following_features_above_blurred_ones():
    image = torch.zeros(3, 32, 40)
    image[:, :, 17:] = 1.0  # one vertical edge
    image[:, 9:12, :] += 0.5  # and a horizontal bar
    sharp = torch.cat([image, -image[:1]], 0)  # features that change exactly at the edges
    blurred = F.avg_pool2d(sharp[None], 9, stride=1, padding=4, count_include_pad=False)
    assert edge_alignment(image, sharp) == pytest.approx(1.0, abs=1e-6)
    assert 0 < edge_alignment(image, blurred) < 0.9
    with pytest.raises(ValueError, match='image size'):
        edge_alignment(image, sharp[:, :16])
    with pytest.raises(ValueError, match='constant'):
        edge_alignment(image, torch.ones(4, 32, 40))


def test_gradient_map_shows_where_a_map_changes():
    """A vertical step in one channel: white on the step's column, black elsewhere; scaled to
    the map's own quantile (doubling the map changes nothing); same size as the map."""
    from mmfeatup.utils import gradient_map
    features = torch.zeros(2, 6, 9)
    features[1, :, 5:] = 3.0
    grey = gradient_map(features, quantile=1.0)
    assert grey.shape == (3, 6, 9)
    assert torch.equal(grey[0], grey[2])
    assert torch.all(grey[0, :, 4] == 1) and grey[0, :, [0, 1, 2, 3, 5, 6, 7, 8]].abs().max() == 0
    assert torch.equal(gradient_map(2 * features, quantile=1.0), grey)
    assert gradient_map(torch.ones(1, 4, 4)).abs().max() == 0  # flat: black, not NaN
    for bad, match in ((torch.zeros(2, 3, 4, 4), 'batch'), (torch.zeros(3, 1, 4), 'H, W'),):
        with pytest.raises(ValueError, match=match):
            gradient_map(bad)
    with pytest.raises(ValueError, match='quantile'):
        gradient_map(features, quantile=0)


def test_save_feature_figure_lays_panels_out_in_rows(tmp_path):
    from PIL import Image
    panel = ('p', torch.rand(3, 16, 16))
    one_row = save_feature_figure([panel] * 4, str(tmp_path / 'a.png'))
    two_rows = save_feature_figure([panel, None, panel, panel], str(tmp_path / 'b.png'),
                                   columns=2)
    with Image.open(one_row) as a, Image.open(two_rows) as b:
        assert a.size[0] > 1.8 * b.size[0] and b.size[1] > 1.8 * a.size[1]
    with pytest.raises(ValueError, match='every panel is None'):
        save_feature_figure([None, None], str(tmp_path / 'c.png'))
    with pytest.raises(ValueError, match='columns'):
        save_feature_figure([panel], str(tmp_path / 'c.png'), columns=0)
