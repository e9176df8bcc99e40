import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data

import mmfeatup.models  # noqa: F401
from mmfeatup.apis import evaluate_reconstruction, fit_implicit, query_implicit, train_upsampler
from mmfeatup.models.featurizers import build_featurizer
from mmfeatup.models.upsamplers import JBUStack
from mmfeatup.utils import read_checkpoint


@pytest.fixture(scope='module')
def featurizer():
    return build_featurizer('efficientnet_lite0_s16', channel_norm=True)


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp('photos')
    Image.fromarray(data.chelsea()).save(root / 'cat.png')
    Image.fromarray(data.coffee()).save(root / 'coffee.png')
    return root


def small(image, size):
    tensor = torch.from_numpy(image).permute(2, 0, 1).float()[None] / 255
    return F.interpolate(tensor, size=size, mode='area')[0]


def test_train_upsampler_returns_trained_module(featurizer, photos, tmp_path):
    up = train_upsampler(dict(type='JBUStack'), featurizer, str(photos), iters=2, seed=0,
                         batch_size=1, crop_size=48, work_dir=str(tmp_path), n_jitters=1,
                         max_pad=8)
    assert not up.training
    assert len(up.train_info['losses']) == 2 and up.train_info['seconds'] > 0
    assert (tmp_path / 'upsampler.pth').is_file()
    saved = read_checkpoint(str(tmp_path / 'upsampler.pth'))  # weights-only
    assert saved['meta']['iters'] == 2 and saved['meta']['upsampler'] == dict(type='JBUStack')
    assert torch.equal(saved['state_dict']['up1.range_temp'], up.up1.range_temp.detach())
    assert list(tmp_path.glob('iter_2.pth'))  # the mmengine Runner trained it
    # the file loads where any FeatUp JBU does, into any channel count
    reloaded = JBUStack(in_channels=7, checkpoint=str(tmp_path / 'upsampler.pth'))
    assert torch.equal(reloaded.up4.range_temp, up.up4.range_temp.detach())
    untouched = train_upsampler(dict(type='JBUStack'), featurizer, str(photos), iters=0, seed=0)
    assert not torch.equal(untouched.up1.range_temp, up.up1.range_temp)
    # same seed, same run: the Runner seeds data order, views and initialisation
    again = train_upsampler(dict(type='JBUStack'), featurizer, str(photos), iters=2, seed=0,
                            batch_size=1, crop_size=48, n_jitters=1, max_pad=8)
    assert again.train_info['losses'] == up.train_info['losses']
    assert torch.equal(again.up1.range_temp, up.up1.range_temp)
    # parameter-free upsamplers are returned untrained
    assert train_upsampler(dict(type='Bilinear'), featurizer, str(photos),
                           iters=2).train_info['iters'] == 0


def test_evaluate_reconstruction_is_deterministic_and_fair(featurizer, photos):
    kwargs = dict(n_views=2, seed=3, crop_size=64, max_pad=8)
    a = evaluate_reconstruction('bilinear', featurizer, str(photos), **kwargs)
    b = evaluate_reconstruction('bilinear', featurizer, str(photos), **kwargs)
    assert a['rel_mse'] == b['rel_mse'] and a['num_images'] == 2
    assert len(a['per_image']['cos']) == 2
    # the registered Bilinear upsampler gives the same number as the name
    from mmfeatup.registry import build_upsampler
    module = build_upsampler(dict(type='Bilinear'), in_channels=112)
    c = evaluate_reconstruction(module, featurizer, str(photos), **kwargs)
    assert c['rel_mse'] == pytest.approx(a['rel_mse'], rel=1e-6)
    d = evaluate_reconstruction('nearest', featurizer, str(photos), **kwargs)
    assert d['rel_mse'] != a['rel_mse']
    with pytest.raises(ValueError, match='bilinear, bicubic or nearest'):
        evaluate_reconstruction('lanczos', featurizer, str(photos))


def test_fit_implicit_reduces_loss_and_queries_any_size(featurizer):
    image = small(data.astronaut(), (64, 64))
    model, info = fit_implicit(image, featurizer, steps=12, n_views=6, views_per_step=2,
                               pca_dim=16, max_pad=8, seed=0, eval_views=2,
                               downsampler=dict(type='simple'))
    losses = info['losses']
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert info['pca_dim'] == 16
    assert {'rel_mse', 'cos', 'bilinear_rel_mse', 'bilinear_cos'} <= set(info)
    assert query_implicit(model).shape == (1, 112, 64, 64)
    out = query_implicit(model, (50, 73))
    assert out.shape == (1, 112, 50, 73) and torch.isfinite(out).all()
    assert query_implicit(model, 32).shape == (1, 112, 32, 32)


def test_fit_implicit_bad_inputs(featurizer):
    with pytest.raises(ValueError, match='image01'):
        fit_implicit(torch.rand(2, 3, 64, 64), featurizer, steps=1)
    with pytest.raises(ValueError, match='max_pad'):
        fit_implicit(torch.rand(3, 16, 16), featurizer, steps=1, max_pad=20)
    with pytest.raises(ValueError, match='smaller than the stride'):
        fit_implicit(torch.rand(3, 24, 10), featurizer, steps=1, max_pad=4)


def test_learning_curve_scores_during_training_without_changing_it(featurizer, photos):
    """The curve's scorer draws its views from its own generator: the run is the same with and
    without it, and the last point is the trained upsampler's own score."""
    heldout = [small(data.astronaut(), (48, 48))]

    def score(module):
        return {k: evaluate_reconstruction(module, featurizer, heldout, n_views=2, seed=0,
                                           crop_size=None)[k] for k in ('rel_mse', 'cos')}

    kwargs = dict(iters=3, seed=0, batch_size=1, crop_size=48, n_jitters=1, max_pad=8)
    plain_run = train_upsampler(dict(type='JBUStack'), featurizer, str(photos), **kwargs)
    curved = train_upsampler(dict(type='JBUStack'), featurizer, str(photos), curve_points=(2, 3, 9),
                             curve_score=score, **kwargs)
    assert curved.train_info['losses'] == plain_run.train_info['losses']
    assert torch.equal(curved.up1.range_temp, plain_run.up1.range_temp)
    curve = curved.train_info['curve']
    assert [p['iter'] for p in curve] == [0, 2, 3]  # before training, then the points <= iters
    assert curve[-1]['rel_mse'] == pytest.approx(score(curved)['rel_mse'], rel=1e-12)
    assert curve[0]['rel_mse'] != curve[-1]['rel_mse']
    assert plain_run.train_info['curve'] == []
    # untrained (no parameters): one point
    bilinear = train_upsampler(dict(type='Bilinear'), featurizer, str(photos), iters=3,
                               curve_points=(3, ), curve_score=score)
    assert [p['iter'] for p in bilinear.train_info['curve']] == [0]
