"""tools/visualize_features.py end to end on a small timm featurizer (random weights)."""
import pytest
import torch

from mmfeatup.models.upsamplers import JBUStack


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('visualize_features.py')


def test_tool_writes_png_with_checkpoint(tool, tmp_path):
    from PIL import Image
    # resnet18 (random init), level 2 (stride 8, 128 channels) of a 64x64 image: x8 JBU
    stack = JBUStack(128)
    with torch.no_grad():
        stack.up1.range_temp.fill_(1.5)
    ckpt = tmp_path / 'iter_10.pth'
    torch.save({'meta': {'iter': 10},
                'state_dict': {**{f'upsampler.{k}': v for k, v in stack.state_dict().items()},
                               'downsampler.kernel': torch.zeros(3)}}, ckpt)
    out = tmp_path / 'vis.png'
    path = tool.main(['skimage:astronaut', '--featurizer', 'resnet18', '--size', '64',
                      '--featurizer-options', 'out_index=2',
                      '--checkpoint', str(ckpt), '--compare', 'Bilinear', '--out', str(out)])
    assert path == str(out)
    with Image.open(out) as img:
        assert img.size[0] > 3 * img.size[1]  # four panels side by side
        four = img.size[0]
    # plus implicit FeatUp fitted to the image: a fifth panel
    tool.main(['skimage:astronaut', '--featurizer', 'resnet18', '--size', '64',
               '--featurizer-options', 'out_index=2', '--checkpoint', str(ckpt),
               '--compare', 'Bilinear', '--implicit-steps', '2', '--out', str(out)])
    with Image.open(out) as img:
        assert img.size[0] > four
    loaded = JBUStack(128)
    tool.load_upsampler_weights(loaded, str(ckpt))
    assert loaded.up1.range_temp.item() == pytest.approx(1.5)


def test_tool_inputs(tool):
    assert tool.load_named_image('sklearn:china').shape[-1] == 3
    image = tool.prepare_image(tool.load_named_image('skimage:camera'), 64, crop=True)
    assert image.shape == (1, 3, 64, 64) and 0 <= image.min() and image.max() <= 1
    with pytest.raises(ValueError, match='unknown source'):
        tool.load_named_image('nowhere:thing')
    with pytest.raises(FileNotFoundError, match='image'):
        tool.load_named_image('/no/such/file.png')
    from mmfeatup.utils.checkpoint_keys import module_state_dict
    with pytest.raises(ValueError, match='checkpoint'):
        module_state_dict({'state_dict': {'x.weight': torch.zeros(1)}}, JBUStack(4))


def test_tool_shows_saved_implicit_features(tool, tmp_path):
    from PIL import Image
    base = ['skimage:astronaut', '--featurizer', 'resnet18', '--size', '64',
            '--featurizer-options', 'out_index=2', '--compare', 'Bilinear']
    saved = tmp_path / 'fit.pt'
    torch.save(dict(features=torch.randn(1, 128, 64, 64), info=dict(steps=300)), saved)
    out = tmp_path / 'vis.png'
    tool.main(base + ['--out', str(out)])
    with Image.open(out) as img:
        without = img.size[0]
    tool.main(base + ['--implicit-features', str(saved), '--out', str(out)])
    with Image.open(out) as img:
        assert img.size[0] > without  # one more panel
    torch.save(dict(features=torch.randn(1, 128, 32, 32), info={}), saved)
    with pytest.raises(ValueError, match='same --size'):
        tool.main(base + ['--implicit-features', str(saved), '--out', str(out)])


def test_gradients_add_a_second_row(tool, tmp_path):
    """--gradients: the figure gets a second row (|grad| of the image and of every upsampled
    map) under the same columns: about twice as tall, as wide."""
    from PIL import Image
    base = ['skimage:astronaut', '--featurizer', 'resnet18', '--size', '64',
            '--featurizer-options', 'out_index=2', '--compare', 'Bilinear']
    one, two = tmp_path / 'one.png', tmp_path / 'two.png'
    tool.main(base + ['--out', str(one)])
    tool.main(base + ['--gradients', '--out', str(two)])
    with Image.open(one) as a, Image.open(two) as b:
        assert a.size[0] == b.size[0]
        assert 1.7 * a.size[1] < b.size[1] < 2.3 * a.size[1]
