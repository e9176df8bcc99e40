"""mmfeatup.utils.load_jbu_weights / JBUStack(checkpoint=...): a trained JBU in any neck level."""
import pytest
import torch

from mmfeatup.models.necks import FeatUpNeck
from mmfeatup.models.upsamplers import JBUFused, JBUStack
from mmfeatup.utils import load_jbu_weights


def trained_like(feat_dim: int, seed: int = 0, **kwargs) -> JBUStack:
    """A JBUStack with every parameter moved away from its initialisation."""
    gen = torch.Generator().manual_seed(seed)
    stack = JBUStack(feat_dim, **kwargs)
    with torch.no_grad():
        for param in stack.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * 0.1)
    return stack.eval()


def stage_state(module: torch.nn.Module) -> dict:
    return {k: v for k, v in module.state_dict().items() if k.startswith('up')}


@pytest.fixture
def checkpoint(tmp_path):
    source = trained_like(112)
    path = tmp_path / 'upsampler.pth'
    torch.save(source.state_dict(), path)
    return source, str(path)


def test_same_channels_reproduces_the_trained_stack(checkpoint):
    source, path = checkpoint
    loaded = JBUStack(112, checkpoint=path).eval()
    gen = torch.Generator().manual_seed(1)
    features = torch.randn(2, 112, 5, 7, generator=gen)
    image = torch.randn(2, 3, 40, 56, generator=gen)
    torch.testing.assert_close(loaded(features, image), source(features, image))


def test_other_channels_take_the_stages_and_keep_their_residual(checkpoint):
    source, path = checkpoint
    torch.manual_seed(3)
    fresh = JBUStack(40)
    torch.manual_seed(3)
    loaded = JBUStack(40, checkpoint=path)
    for key, value in stage_state(source).items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0, msg=key)
    # the C x C residual has no counterpart for 40 channels: initialised as usual
    for key in ('fixup_proj.1.weight', 'fixup_proj.1.bias'):
        torch.testing.assert_close(loaded.state_dict()[key], fresh.state_dict()[key])
    report = load_jbu_weights(JBUStack(40), path)
    assert report['kept'] == ['fixup_proj.1.weight', 'fixup_proj.1.bias']
    assert report['unused'] == ['fixup_proj.1.bias', 'fixup_proj.1.weight']
    assert len(report['loaded']) == len(stage_state(source))


def test_filters_depend_on_the_image_only(checkpoint):
    """Why the transfer is sound: the loaded stage filters equal the trained ones."""
    source, path = checkpoint
    loaded = JBUStack(1, checkpoint=path).eval()
    image = torch.randn(1, 3, 24, 20, generator=torch.Generator().manual_seed(2))
    for index in range(4):
        torch.testing.assert_close(loaded.stage(index).kernel(image),
                                   source.stage(index).kernel(image))


def test_fewer_stages_and_fused(checkpoint):
    source, path = checkpoint
    short = JBUStack(16, num_stages=2)
    report = load_jbu_weights(short, path)
    assert any(k.startswith('up3.') for k in report['unused'])
    torch.testing.assert_close(short.up2.sigma_spatial, source.up2.sigma_spatial)
    # fixup-trained stages never load silently into JBUFused (a different filter) ...
    with pytest.raises(ValueError, match=r'trained with their kernel fixups .* JBUFused has none'):
        JBUFused(16, checkpoint=path)
    # ... the documented, knowing conversion keeps everything else
    fused = JBUFused.from_jbu_stack(JBUStack(16, checkpoint=path))
    torch.testing.assert_close(fused.up4.range_temp, source.up4.range_temp)
    # weights of a JBUFused load into a JBUFused
    saved = {k: v for k, v in fused.state_dict().items()}
    again = JBUFused(16, checkpoint=None)
    assert not load_jbu_weights(again, saved)['unused']
    torch.testing.assert_close(again.up2.sigma_spatial, source.up2.sigma_spatial)


def test_mismatches_are_clear_errors(checkpoint, tmp_path):
    _, path = checkpoint
    with pytest.raises(ValueError, match='up1.fixup_proj.0.weight.*radius'):
        JBUStack(16, radius=2, checkpoint=path)
    with pytest.raises(ValueError, match="no entry for 'up5"):
        JBUStack(16, num_stages=5, checkpoint=path)
    with pytest.raises(FileNotFoundError, match='no such file'):
        JBUStack(16, checkpoint=str(tmp_path / 'missing.pth'))
    with pytest.raises(ValueError, match='no JBUStack weights'):
        load_jbu_weights(JBUStack(16), {'backbone.weight': torch.zeros(1)})


def test_neck_levels_share_one_pretrained_jbu(checkpoint):
    source, path = checkpoint
    neck = FeatUpNeck([24, 40, 112, 320], upsampler=dict(type='JBUStack', checkpoint=path))
    for module in neck.upsamplers:
        for key, value in stage_state(source).items():
            torch.testing.assert_close(module.state_dict()[key], value, rtol=0, atol=0)
    # the 112-channel level also gets the trained residual, the others keep their own
    torch.testing.assert_close(neck.upsamplers[1].fixup_proj[1].weight, source.fixup_proj[1].weight)
