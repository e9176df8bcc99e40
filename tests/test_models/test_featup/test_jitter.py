import pytest
import torch
import torch.nn.functional as F
from skimage import data

from mmfeatup.models.featup import JitterParams, apply_jitter, sample_jitter


@pytest.fixture(scope='module')
def photo():
    image = torch.from_numpy(data.chelsea()).permute(2, 0, 1).float()[None] / 255
    return F.interpolate(image, size=(61, 93), mode='area')  # odd, non-square


def test_identity_view_returns_input(photo):
    params = JitterParams(flip=False, zoom=1.0, top=7, left=7, max_pad=7)
    assert torch.equal(apply_jitter(photo, params), photo)


def test_flip_only(photo):
    params = JitterParams(flip=True, zoom=1.0, top=3, left=3, max_pad=3)
    assert torch.equal(apply_jitter(photo, params), torch.flip(photo, [3]))


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_same_jitter_for_image_and_features(photo, seed):
    """A pointwise map (1x1 conv) commutes with the jitter only if both get the same view."""
    gen = torch.Generator().manual_seed(seed)
    params = sample_jitter(61, 93, max_pad=10, max_zoom=2.0, generator=gen)
    conv = torch.nn.Conv2d(3, 5, 1)
    with torch.no_grad():
        feats = conv(photo)
        jittered_feats = apply_jitter(feats, params)
        feats_of_jittered = conv(apply_jitter(photo, params))
    assert jittered_feats.shape == (1, 5, 61, 93)
    assert torch.allclose(jittered_feats, feats_of_jittered, atol=1e-5)
    both = apply_jitter(torch.cat([photo, feats], 1), params)
    assert torch.allclose(both[:, :3], apply_jitter(photo, params))


def test_sampling_is_deterministic_and_in_range():
    views = [sample_jitter(50, 70, 5, 1.5, generator=torch.Generator().manual_seed(4))
             for _ in range(2)]
    assert views[0] == views[1]
    gen = torch.Generator().manual_seed(0)
    seen = [sample_jitter(50, 70, 5, 1.5, generator=gen) for _ in range(64)]
    assert any(v.flip for v in seen) and any(not v.flip for v in seen)
    assert any(v.zoom > 1 for v in seen) and any(v.zoom == 1 for v in seen)
    for v in seen:
        assert 1.0 <= v.zoom <= 1.5
        out = apply_jitter(torch.rand(1, 2, 50, 70), v)
        assert out.shape == (1, 2, 50, 70)


def test_bad_arguments():
    with pytest.raises(ValueError, match='max_pad'):
        apply_jitter(torch.rand(1, 3, 8, 8), JitterParams(False, 1.0, 0, 0, 8))
    with pytest.raises(ValueError, match='max_zoom'):
        sample_jitter(8, 8, 2, 0.5)
