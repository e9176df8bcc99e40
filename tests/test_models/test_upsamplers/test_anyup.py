"""AnyUp: shapes, gradients, windowed convex attention, channel-permutation equivariance,
one set of weights for any channel count, the feature-unification layer, official key
layout (strict load), argument errors."""
import pytest
import torch
import torch.nn.functional as F

import mmfeatup.models  # noqa: F401
from mmfeatup.models.layers.feature_unification import LearnedFeatureUnification
from mmfeatup.models.layers.image_attention import window_attention_mask
from mmfeatup.models.upsamplers import AnyUpUpsampler


def tiny(channels=3, **kwargs):
    torch.manual_seed(0)
    return AnyUpUpsampler(channels, qk_dim=8, num_heads=2, kernel_size_lfu=3, **kwargs)


def test_gradcheck_float64(gradcheck_upsampler):
    assert gradcheck_upsampler(tiny(), 3)


def test_windowed_attention_is_convex_and_local():
    model = tiny(window_ratio=0.2).eval()
    captured = []
    model.cross_decode.cross_attn.attention.register_forward_hook(
        lambda mod, args, out: captured.append(out))
    gen = torch.Generator().manual_seed(1)
    source = torch.randn(2, 3, 6, 7, generator=gen)
    size = (13, 17)
    with torch.no_grad():
        out = model(source, torch.rand(2, 3, *size, generator=gen), output_size=size)
    weights = torch.cat(captured, dim=1)  # [B, H*W, h*w]
    allowed = window_attention_mask(size, (6, 7), 0.2)
    assert weights[:, ~allowed].abs().max() == 0
    assert torch.allclose(weights.sum(-1), torch.ones(2, size[0] * size[1]), atol=1e-5)
    expected = torch.einsum('bnm,bcm->bcn', weights, source.flatten(2)).view_as(out)
    assert torch.allclose(out, expected, atol=1e-5)


def test_window_mask_matches_its_definition():
    size, src, ratio = (7, 9), (3, 4), 0.1
    mask = window_attention_mask(size, src, ratio).view(*size, *src)
    for y in range(size[0]):
        for x in range(size[1]):
            py, px = (y + 0.5) / size[0], (x + 0.5) / size[1]
            r0, r1 = int(max(py - ratio, 0) * src[0] // 1), -int(-min(py + ratio, 1) * src[0] // 1)
            c0, c1 = int(max(px - ratio, 0) * src[1] // 1), -int(-min(px + ratio, 1) * src[1] // 1)
            expected = torch.zeros(src, dtype=torch.bool)
            expected[r0:r1, c0:c1] = True
            assert torch.equal(mask[y, x], expected), (y, x)


def test_equivariant_to_a_permutation_of_the_source_channels():
    model = tiny(channels=5).eval()
    gen = torch.Generator().manual_seed(2)
    source = torch.randn(1, 5, 4, 5, generator=gen)
    guidance = torch.rand(1, 3, 9, 11, generator=gen)
    perm = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        out = model(source, guidance, output_size=(9, 11))
        out_perm = model(source[:, perm], guidance, output_size=(9, 11))
    assert torch.allclose(out_perm, out[:, perm], atol=1e-5)


def test_one_set_of_weights_serves_any_channel_count():
    small = tiny(channels=3)
    wide = AnyUpUpsampler(40, qk_dim=8, num_heads=2, kernel_size_lfu=3)
    wide.load_state_dict(small.state_dict(), strict=True)
    with torch.no_grad():
        assert wide.eval()(torch.randn(1, 40, 3, 3), torch.rand(1, 3, 8, 8)).shape == (1, 40, 8, 8)


def test_feature_unification_paper_and_official_layouts():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 4, 5)
    paper = LearnedFeatureUnification(4, 3)
    official = LearnedFeatureUnification(4, 3, layout='official')
    official.load_state_dict(paper.state_dict())
    # the definition: per channel, softmax over the filter responses (normalised by the
    # taps inside), averaged over channels
    count = F.conv2d(F.pad(torch.ones(1, 1, 4, 5), [1] * 4), torch.ones(1, 1, 3, 3))
    resp = torch.stack([F.conv2d(F.pad(x[:, c:c + 1], [1] * 4), paper.basis) / count
                        for c in range(6)], 1)  # [B, C, O, h, w]
    assert torch.allclose(paper(x), resp.softmax(2).mean(1), atol=1e-6)
    # the released code: grouped conv (channel-major) viewed as [O, C] before the softmax
    grouped = F.conv2d(F.pad(x, [1] * 4), paper.basis.repeat(6, 1, 1, 1), groups=6) / count
    assert torch.allclose(official(x), grouped.view(2, 4, 6, 4, 5).softmax(1).mean(2),
                          atol=1e-6)
    assert torch.allclose(paper(x).sum(1), torch.ones(2, 4, 5), atol=1e-6)
    assert not torch.allclose(paper(x), official(x))
    one = x[:, :1]
    assert torch.allclose(paper(one), official(one), atol=1e-6)


def official_anyup_shapes(cross_decode_shapes, qk=128, input_dim=3, lfu_k=5):
    """The official AnyUp's state-dict keys and shapes (from anyup/model.py)."""
    shapes = {}

    def block(name, in_dim, out_dim):
        shapes[f'{name}.block.0.weight'] = shapes[f'{name}.block.0.bias'] = (in_dim,)
        shapes[f'{name}.block.2.weight'] = (out_dim, in_dim, 1, 1)
        shapes[f'{name}.block.3.weight'] = shapes[f'{name}.block.3.bias'] = (out_dim,)
        shapes[f'{name}.block.5.weight'] = (out_dim, out_dim, 1, 1)

    def encoder(name, in_dim, k):
        shapes[f'{name}.0.weight'] = (qk, in_dim, k, k)
        block(f'{name}.1', qk, qk)
        block(f'{name}.2', qk, qk)

    encoder('image_encoder', input_dim, 1)
    encoder('key_encoder', qk, 1)
    encoder('query_encoder', qk, 1)
    shapes['key_features_encoder.0.basis'] = (qk, 1, lfu_k, lfu_k)
    block('key_features_encoder.1', qk, qk)
    block('key_features_encoder.2', qk, qk)
    shapes.update(cross_decode_shapes(qk))  # theirs: packed in_proj
    encoder('aggregation', 2 * qk, 3)
    shapes['rope.freqs'] = (2, qk)
    return shapes


def test_official_state_dict_loads_strictly(random_state, official_cross_decode_shapes):
    shapes = official_anyup_shapes(official_cross_decode_shapes)
    official = random_state(shapes)
    model = AnyUpUpsampler(384)
    prefix = 'cross_decode.cross_attn.attention.'
    ours = model.state_dict()
    assert set(ours) == (set(shapes) - {prefix + 'in_proj_weight', prefix + 'out_proj.weight',
                                        prefix + 'out_proj.bias'}
                         | {prefix + 'q_proj_weight', prefix + 'k_proj_weight'})
    model.load_state_dict(dict(official), strict=True)
    state = model.state_dict()
    packed = official[prefix + 'in_proj_weight']
    assert torch.equal(state[prefix + 'q_proj_weight'], packed[:128])
    assert torch.equal(state[prefix + 'k_proj_weight'], packed[128:256])
    for key, value in state.items():
        if key in official:
            assert torch.equal(value, official[key]), key
    assert sum(p.numel() for p in model.parameters()) == 845184


@pytest.mark.parametrize('kwargs,message', [
    (dict(qk_dim=20), 'qk_dim must be a positive multiple of 8'),
    (dict(num_heads=5), 'num_heads must divide'),
    (dict(kernel_size_lfu=4), 'kernel_size_lfu must be a positive odd'),
    (dict(lfu_dim=12), 'lfu_dim must be a positive multiple of 8'),
    (dict(lfu_layout='released'), "layout must be 'paper' or 'official'"),
])
def test_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AnyUpUpsampler(4, **kwargs)