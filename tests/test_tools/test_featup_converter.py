"""tools/model_converters/featup_to_mmfeatup.py and mmfeatup.utils.featup_checkpoint."""
import pytest
import torch

from mmfeatup.models.upsamplers import JBUStack
from mmfeatup.utils import convert_featup_state_dict, infer_jbu_config


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('model_converters/featup_to_mmfeatup.py')


def random_stack(feat_dim: int, seed: int) -> JBUStack:
    gen = torch.Generator().manual_seed(seed)
    stack = JBUStack(feat_dim)
    with torch.no_grad():
        for param in stack.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.2 + 0.5 * (param.dim() == 0))
    return stack.eval()


def lightning_checkpoint(stack: JBUStack) -> dict:
    """What the authors' training (a LightningModule with model/upsampler/downsampler/
    scale_net attributes) saves."""
    state = {f'upsampler.{k}': v.clone() for k, v in stack.state_dict().items()}
    state.update({
        'model.0.patch_embed.proj.weight': torch.randn(8, 3, 16, 16),
        'model.1.norm.weight': torch.ones(8),
        'downsampler.kernel_params': torch.randn(7, 7),
        'scale_net.weight': torch.randn(1, 8, 1, 1),
        'scale_net.bias': torch.randn(1),
    })
    return {'epoch': 0, 'global_step': 2000, 'pytorch-lightning_version': '1.9.0',
            'state_dict': state, 'hyper_parameters': {'lr': 1e-3, 'upsampler_type': 'jbu_stack'},
            'optimizer_states': [], 'lr_schedulers': []}


def test_convert_lightning_checkpoint_and_load(tool, tmp_path):
    stack = random_stack(8, seed=0)
    src = tmp_path / 'dino16_jbu_stack_cocostuff.ckpt'
    dst = tmp_path / 'out' / 'jbu.pth'
    torch.save(lightning_checkpoint(stack), src)
    written = tool.main([str(src), str(dst)])
    assert set(written) == set(stack.state_dict())
    loaded_sd = torch.load(dst, map_location='cpu', weights_only=True)
    assert set(loaded_sd) == set(stack.state_dict())
    model = JBUStack(8)
    model.load_state_dict(loaded_sd)  # strict: authors' names, no prefix
    model.eval()
    source, image = torch.randn(1, 8, 3, 4), torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(source, image), stack(source, image))


def test_convert_variants():
    stack = random_stack(4, seed=1)
    plain = stack.state_dict()
    hub = {f'upsampler.{k}': v for k, v in plain.items()}
    hub['model.1.norm.bias'] = torch.zeros(4)
    ddp = {'state_dict': {f'module.upsampler.{k}': v for k, v in plain.items()}}
    for checkpoint in (plain, hub, ddp, {'state_dict': hub}):
        converted = convert_featup_state_dict(checkpoint)
        assert set(converted) == set(plain)
        assert all(torch.equal(converted[k], plain[k]) for k in plain)
    custom = {'net.up.' + k: v for k, v in plain.items()}
    assert set(convert_featup_state_dict(custom, prefix='net.up.')) == set(plain)
    assert infer_jbu_config(plain) == dict(feat_dim=4, key_dim=32, num_stages=4, radius=3)


def test_convert_errors(tool, tmp_path):
    with pytest.raises(ValueError, match='no JBUStack weights'):
        convert_featup_state_dict({'state_dict': {'model.weight': torch.zeros(1)}})
    with pytest.raises(ValueError, match='checkpoint must be a dict'):
        convert_featup_state_dict([1, 2])
    with pytest.raises(FileNotFoundError, match='src'):
        tool.main([str(tmp_path / 'missing.ckpt'), str(tmp_path / 'x.pth')])
    # a checkpoint pickling a non-tensor object is refused (weights-only), naming the object
    src = tmp_path / 'pickled.ckpt'
    checkpoint = lightning_checkpoint(random_stack(4, seed=2))
    checkpoint['hyper_parameters'] = {'cfg': _Config()}
    torch.save(checkpoint, src)
    with pytest.raises(RuntimeError, match=r'src: checkpoint: refused .*_Config'):
        tool.main([str(src), str(tmp_path / 'x.pth')])
    assert not (tmp_path / 'x.pth').exists()


class _Config:
    """Stands for an omegaconf/argparse object pickled into a Lightning checkpoint."""
