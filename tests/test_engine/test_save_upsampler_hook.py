import torch
from mmengine.config import ConfigDict
from torch import nn

from mmfeatup.engine import save_upsampler


def test_save_upsampler_meta_loads_weights_only(tmp_path):
    layer = nn.Linear(3, 2)
    meta = dict(upsampler=ConfigDict(type='JBUStack', norm_cfg=ConfigDict(type='BN')),
                sizes=(1, 2), config='x.py')
    path = tmp_path / 'upsampler.pth'
    save_upsampler(layer, str(path), meta)
    loaded = torch.load(path, map_location='cpu', weights_only=True)
    assert loaded['meta'] == dict(upsampler=dict(type='JBUStack', norm_cfg=dict(type='BN')),
                                  sizes=[1, 2], config='x.py')
    assert type(loaded['meta']['upsampler']['norm_cfg']) is dict
    assert torch.equal(loaded['state_dict']['weight'], layer.weight)
