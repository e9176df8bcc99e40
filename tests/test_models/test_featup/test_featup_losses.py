import math

import pytest
import torch

from mmfeatup.models.featup import (SampledCRFLoss, ScaleNet, project, random_projection, tv_loss,
                                    uncertainty_loss)


def test_uncertainty_loss_matches_hand_computation():
    pred = torch.tensor([1.0, 2.0, 0.5, -1.0]).view(1, 2, 1, 2)  # channels (1, 2), (0.5, -1)
    target = torch.tensor([0.0, 0.0, 0.5, 1.0]).view(1, 2, 1, 2)
    scale = torch.tensor([2.0, 0.5]).view(1, 1, 1, 2)
    # elements: (c0,x0) d=1 s=2; (c0,x1) d=2 s=.5; (c1,x0) d=0 s=2; (c1,x1) d=-2 s=.5
    terms = [1 / 8 + math.log(2), 4 / 0.5 + math.log(0.5), 0 + math.log(2),
             4 / 0.5 + math.log(0.5)]
    expected = sum(terms) / 4
    assert uncertainty_loss(pred, target, scale).item() == pytest.approx(expected, rel=1e-6)


def test_scale_net_starts_near_exp_point_one():
    torch.manual_seed(0)
    net = ScaleNet(16)
    scale = net(torch.randn(2, 16, 5, 5))
    assert scale.shape == (2, 1, 5, 5)
    assert torch.all(scale > 0)
    assert torch.allclose(scale, torch.full_like(scale, math.exp(0.1)), rtol=0.2)


def test_random_projection_columns_unit_norm():
    proj = random_projection(3, 40, 7, generator=torch.Generator().manual_seed(0))
    assert proj.shape == (3, 40, 7)
    assert torch.allclose(proj.norm(dim=1), torch.ones(3, 7), atol=1e-5)
    feats = torch.randn(3, 40, 4, 5)
    out = project(feats, proj)
    assert out.shape == (3, 7, 4, 5)
    assert torch.allclose(out[1, 2, 3, 4], (feats[1, :, 3, 4] * proj[1, :, 2]).sum(), atol=1e-5)
    assert project(feats, None) is feats


def test_tv_loss_hand_computation():
    x = torch.tensor([[0.0, 1.0], [3.0, 3.0]]).view(1, 1, 2, 2)
    # vertical diffs: 3, 2 -> 9 + 4; horizontal: 1, 0 -> 1
    assert tv_loss(x).item() == pytest.approx((9 + 4 + 1) / 4)


def test_crf_loss_hand_computation_and_zero_on_constant():
    crf = SampledCRFLoss(n_samples=5, alpha=0.1, beta=0.15, gamma=0.005, w1=10, w2=3)
    guidance = torch.rand(2, 3, 6, 7)
    feats = torch.randn(2, 4, 6, 7)
    loss = crf(guidance, feats, generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    ys = torch.randint(0, 6, (5, ), generator=gen)
    xs = torch.randint(0, 7, (5, ), generator=gen)
    total = 0.0
    for b in range(2):
        for i in range(5):
            for j in range(5):
                dp = (ys[i] / 6 - ys[j] / 6) ** 2 + (xs[i] / 7 - xs[j] / 7) ** 2
                dg = (guidance[b, :, ys[i], xs[i]] - guidance[b, :, ys[j], xs[j]]).square().sum()
                df = (feats[b, :, ys[i], xs[i]] - feats[b, :, ys[j], xs[j]]).square().sum()
                aff = 10 * torch.exp(-dp / 0.2 - dg / 0.3) + 3 * torch.exp(-dp / 0.01)
                total += float(aff * df)
    assert loss.item() == pytest.approx(total / 50, rel=1e-4)
    assert crf(guidance, torch.ones(2, 4, 6, 7)).item() == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match='spatial size'):
        crf(guidance, torch.ones(2, 4, 5, 7))
