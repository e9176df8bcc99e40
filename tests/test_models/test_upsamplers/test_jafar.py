"""JAFAR: shapes, gradients, convex-combination output, attention = torch MHA's weights,
official key layout (strict load), argument errors."""
import pytest
import torch
from torch import nn

import mmfeatup.models  # noqa: F401
from mmfeatup.models.layers.image_attention import CrossAttention, HeadAveragedAttention
from mmfeatup.models.layers.image_encoder import RoPE2d
from mmfeatup.models.upsamplers import JAFARUpsampler


def tiny(**kwargs):
    torch.manual_seed(0)
    return JAFARUpsampler(3, qk_dim=8, num_heads=2, **kwargs)


def test_scale_factor_and_guidance_decide_the_size():
    model = JAFARUpsampler(4, qk_dim=8, num_heads=2, scale_factor=2.5).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 4, 3, 4), torch.rand(1, 3, 9, 9)).shape == (1, 4, 8, 10)
        model.scale_factor = None
        assert model(torch.randn(1, 4, 3, 4), torch.rand(1, 3, 9, 7)).shape == (1, 4, 9, 7)


def test_gradcheck_float64(gradcheck_upsampler):
    assert gradcheck_upsampler(tiny(), 3)


def test_guidance_size_output_encodes_the_image_at_the_output_size():
    source, guidance = torch.randn(2, 6, 3, 5), torch.rand(2, 3, 20, 31)
    model = JAFARUpsampler(6, qk_dim=16, guidance_size='output').eval()
    with torch.no_grad():
        assert model(source, guidance, output_size=(7, 11)).shape == (2, 6, 7, 11)
    with pytest.raises(ValueError, match='guidance_size'):
        JAFARUpsampler(6, qk_dim=16, guidance_size='huge')


def test_output_is_a_convex_combination_of_source_vectors():
    model = tiny().eval()
    gen = torch.Generator().manual_seed(3)
    source = torch.randn(2, 3, 4, 5, generator=gen) * 5
    guidance = torch.rand(2, 3, 17, 23, generator=gen)
    with torch.no_grad():
        out = model(source, guidance, output_size=(17, 23))
        low = source.amin(dim=(2, 3), keepdim=True)
        high = source.amax(dim=(2, 3), keepdim=True)
        assert (out >= low - 1e-5).all() and (out <= high + 1e-5).all()
        # a spatially constant source comes back unchanged, whatever the image
        flat = torch.randn(2, 3, 1, 1).expand(2, 3, 4, 5).contiguous()
        assert torch.allclose(model(flat, guidance, output_size=(17, 23)),
                              flat[..., :1, :1].expand(2, 3, 17, 23), atol=1e-5)


def test_attention_weights_equal_torch_multihead_attention():
    """Our head-averaged weights are nn.MultiheadAttention's (average_attn_weights=True)."""
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, vdim=6, batch_first=True).eval()
    nn.init.normal_(mha.in_proj_bias)
    attn = CrossAttention(16, 4)
    attn.load_state_dict({f'attention.{k}': v for k, v in mha.state_dict().items()}
                         | {'norm_q.weight': torch.ones(16), 'norm_k.weight': torch.ones(16)})
    query, key = torch.randn(2, 9, 16), torch.randn(2, 5, 16)
    value = torch.randn(2, 5, 6)
    _, expected = mha(query, key, value, need_weights=True, average_attn_weights=True)
    keys = attn.attention.project_keys(key)
    assert torch.allclose(attn.attention(query, keys), expected, atol=1e-6)
    # chunked over queries: the same result
    attn.q_chunk_size = 4
    full = CrossAttention(16, 4)
    full.load_state_dict(attn.state_dict())
    assert torch.allclose(attn(query, key, value), full(query, key, value), atol=1e-6)


def test_rope_rotates_channel_pairs_by_position():
    rope = RoPE2d(8)
    x = torch.randn(1, 8, 3, 4)
    y = rope(x)
    # rows: channels 0..3 use freqs[0]; the pair (i, i + 4) keeps its norm only when both
    # angles agree: at the top-left corner every angle is 0
    assert torch.allclose(y[..., 0, 0], x[..., 0, 0])
    freqs = rope.freqs.detach()
    angle = 1.0 * freqs[0] + (1 / 3) * freqs[1]  # bottom row, column 1
    rot = torch.cat([-x[:, 4:, -1, 1], x[:, :4, -1, 1]], 1)
    assert torch.allclose(y[..., -1, 1], x[..., -1, 1] * angle.cos() + rot * angle.sin(),
                          atol=1e-6)


def official_jafar_shapes(cross_decode_shapes, v_dim=384, qk=128, input_dim=3):
    """The official JAFAR's state-dict keys and shapes (from src/upsampler/jafar.py)."""
    shapes = {}

    def encoder(name, in_dim):
        shapes[f'{name}.0.weight'] = (qk, in_dim, 1, 1)
        for i in (1, 2):
            for part in ('norm1', 'norm2'):
                shapes[f'{name}.{i}.{part}.weight'] = (qk,)
                shapes[f'{name}.{i}.{part}.bias'] = (qk,)
            for part in ('conv1', 'conv2'):
                shapes[f'{name}.{i}.{part}.weight'] = (qk, qk, 1, 1)

    encoder('image_encoder', input_dim)
    encoder('key_encoder', qk)
    encoder('query_encoder', qk)
    encoder('key_features_encoder', v_dim)
    shapes.update(cross_decode_shapes(qk, v_dim))  # theirs: separate q/k/v projections
    shapes['sft_key.gamma.weight'] = (qk, qk, 1, 1)
    shapes['sft_key.beta.weight'] = (qk, qk, 1, 1)
    shapes['rope.freqs'] = (2, qk)
    return shapes


def test_official_state_dict_loads_strictly(random_state, official_cross_decode_shapes):
    model = JAFARUpsampler(384)  # v_dim 384, the authors' default qk_dim 128
    shapes = official_jafar_shapes(official_cross_decode_shapes)
    official = random_state(shapes)
    unused = {'cross_decode.cross_attn.attention.v_proj_weight',
              'cross_decode.cross_attn.attention.out_proj.weight',
              'cross_decode.cross_attn.attention.out_proj.bias',
              'cross_decode.cross_attn.norm_v.weight'}
    ours = model.state_dict()
    assert set(ours) == set(shapes) - unused
    assert all(tuple(ours[k].shape) == shapes[k] for k in ours)
    model.load_state_dict(dict(official), strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, official[key]), key
    # the official RoPE init is ours
    fresh = JAFARUpsampler(384).rope.freqs
    base = 100 ** torch.linspace(0, -1, 32)
    assert torch.allclose(fresh[0, :64], torch.cat([base, base]) * 2 * torch.pi)
    assert fresh[0, 64:].abs().sum() == 0 and fresh[1, :64].abs().sum() == 0


def test_parameter_count_at_384_channels():
    assert sum(p.numel() for p in JAFARUpsampler(384).parameters()) == 562432


def test_attention_module_keeps_only_what_it_uses():
    attn = HeadAveragedAttention(8, 2)
    assert set(attn.state_dict()) == {'q_proj_weight', 'k_proj_weight', 'in_proj_bias'}


def test_clear_errors():
    with pytest.raises(ValueError, match='qk_dim must be a positive multiple of 8'):
        JAFARUpsampler(4, qk_dim=12)
    with pytest.raises(ValueError, match='num_heads must divide'):
        JAFARUpsampler(4, qk_dim=16, num_heads=3)
    with pytest.raises(ValueError, match='kernel_size must be a positive odd'):
        JAFARUpsampler(4, kernel_size=2)
    with pytest.raises(ValueError, match="guidance_size must be 'native' or 'output'"):
        JAFARUpsampler(4, guidance_size='image')
    model = tiny()
    with pytest.raises(ValueError, match='guidance is required'):
        model(torch.randn(1, 3, 2, 2), output_size=(4, 4))
    with pytest.raises(ValueError, match='guidance has 1 channels'):
        model(torch.randn(1, 3, 2, 2), torch.rand(1, 1, 4, 4))
