"""A frozen feature extractor with a known stride and channel count.

:class:`Featurizer` turns any backbone into ``image01 [B, 3, H, W] -> [B, C, h, w]``:

* a config dict of any backbone registered in MMSegmentation's ``MODELS``
  (mmseg backbones, :class:`EfficientNetLite`, ``TIMMBackbone`` for timm
  ``features_only`` models, ``mmpretrain.*`` backbones when mmpretrain is
  installed), or
* a timm model name (``features_only=True``; weights from a local file).

The image enters in RGB ``[0, 1]``; :meth:`Featurizer.normalize` applies the
backbone's mean/std (in 0..1 units), and that normalised image is also what
guides FeatUp's JBU.
"""
from __future__ import annotations

import copy
import difflib
import os.path as osp
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from mmfeatup.registry import MODELS
from mmfeatup.utils.featup_checkpoint import read_checkpoint
from ..layers import ChannelNorm

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: EfficientNet-Lite's ``(v - 127) / 128`` on 0..255 input, in 0..1 units.
EFFICIENTNET_LITE_MEAN01 = (127.0 / 255.0, ) * 3
EFFICIENTNET_LITE_STD01 = (128.0 / 255.0, ) * 3


def _efficientnet_lite0(level: int, stride: int, channels: int) -> Dict[str, Any]:
    """The frozen ImageNet EfficientNet-Lite0 (offline weights) at one level."""
    return dict(type='Featurizer',
                backbone=dict(type='EfficientNetLite', arch='lite0', pretrained=True,
                              out_indices=(level, )),
                stride=stride, channels=channels,
                mean=EFFICIENTNET_LITE_MEAN01, std=EFFICIENTNET_LITE_STD01)


#: Named featurizer configs accepted by :func:`build_featurizer` (by name, or as
#: ``dict(preset=NAME, **overrides)`` in a config).
FEATURIZER_PRESETS: Dict[str, Dict[str, Any]] = {
    'efficientnet_lite0_s16': _efficientnet_lite0(3, 16, 112),
    'efficientnet_lite0_s32': _efficientnet_lite0(4, 32, 320),
    # timm's DINOv2 ViT-S/14; give ``weights=`` (a local file): nothing is downloaded.
    'vit_small_patch14_dinov2': dict(
        type='Featurizer', backbone='vit_small_patch14_dinov2',
        timm_kwargs=dict(img_size=224, dynamic_img_size=True, out_indices=(-1, )),
        stride=14, channels=384, mean=IMAGENET_MEAN, std=IMAGENET_STD),
}


def backbone_state_dict(checkpoint: Mapping[str, Any]) -> Dict[str, Tensor]:
    """The backbone's weights in a checkpoint as its framework saved them.

    Unwraps ``state_dict`` / ``model`` / ``module`` containers (mmengine, timm's
    train script, DINO-style releases) and strips a ``module.`` (DDP) or ``model.``
    (timm ``features_only`` wrapper) prefix carried by every key.
    """
    state: Mapping[str, Any] = checkpoint
    for key in ('state_dict', 'model', 'module'):
        while isinstance(state.get(key), Mapping):
            state = state[key]
    state = {k: v for k, v in state.items() if isinstance(v, Tensor)}
    for prefix in ('module.', 'model.'):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _mismatch_error(path: str, owner: str, error: Exception, state: Mapping[str, Any],
                    model_keys: Sequence[str]) -> RuntimeError:
    """A RuntimeError naming the file, what it was for, and the keys closest to the model's."""
    keys = list(state)
    closest = difflib.get_close_matches(model_keys[0], keys, n=3, cutoff=0.0) if keys else []
    first = ' '.join(str(error).split())[:300]
    return RuntimeError(
        f'Featurizer: the weights in {path!r} do not fit {owner}: {first}. Model keys start '
        f'{list(model_keys[:3])}; the file keys closest to {model_keys[0]!r} are {closest}.')


def _load_weights(module: nn.Module, path: str) -> None:
    """Load a local checkpoint (``.pth``/``.pt``/``.safetensors``) into ``module``: every key
    of the module must be found (after :func:`backbone_state_dict`); extra keys are ignored."""
    state = backbone_state_dict(read_checkpoint(path))
    missing, _ = module.load_state_dict(state, strict=False)
    if missing:
        raise _mismatch_error(path, type(module).__name__, RuntimeError(
            f'{len(missing)} of its {len(module.state_dict())} weights are missing, e.g. '
            f'{missing[:3]}'), state, list(module.state_dict()))


def _timm_with_weights(name: str, kwargs: Dict[str, Any], path: str) -> nn.Module:
    """``timm.create_model(name, **kwargs)`` with the weights of the local file ``path``,
    through timm's own pretrained loading: the architecture's checkpoint filter converts
    the authors' original releases (e.g. DINOv2's, its ``mask_token`` and position
    embedding size) exactly as for timm's hub weights, and loading is strict."""
    import timm
    state = backbone_state_dict(read_checkpoint(path))
    try:
        return timm.create_model(name, pretrained=True,
                                 pretrained_cfg_overlay=dict(state_dict=state), **kwargs)
    except RuntimeError as error:
        reference = timm.create_model(name, pretrained=False, **kwargs)
        model_keys = [k[len('model.'):] if k.startswith('model.') else k
                      for k in reference.state_dict()]
        raise _mismatch_error(path, f'timm model {name!r}', error, state, model_keys) from None


@MODELS.register_module()
class Featurizer(nn.Module):
    """Frozen backbone -> one feature level, with normalisation built in.

    Args:
        backbone (dict | str | nn.Module): a ``MODELS`` config dict, a timm
            model name (built with ``features_only=True``), or a module that
            maps a normalised image to a tensor or a sequence of tensors.
        out_index (int): which output of the backbone to use. Default: -1.
        stride (int, optional): the level's stride; inferred by a dummy
            forward when None. Default: None.
        channels (int, optional): the level's channels; inferred when None.
            Default: None.
        mean (Sequence[float]): per-channel mean in 0..1 units. Default: ImageNet.
        std (Sequence[float]): per-channel std in 0..1 units. Default: ImageNet.
        channel_norm (bool): apply a (frozen) ChannelNorm to the output, as
            FeatUp's training does. Default: False.
        frozen (bool): eval mode forever and ``requires_grad=False``. Default: True.
        weights (str, optional): a local checkpoint of the backbone (``.pth``,
            ``.pt`` or ``.safetensors``; read weights-only), as its framework
            saved it: for a timm name, timm state dicts and the authors' original
            releases that timm's checkpoint filter converts (e.g. DINOv2's), loaded
            strictly; for other backbones every backbone key must be found. A file
            that fits nothing is an error naming the closest keys. Default: None.
        timm_kwargs (dict, optional): extra ``timm.create_model`` arguments for
            a timm name (``dynamic_img_size=True`` is set for ViTs). Default: None.
        probe_size (int): input size of the dummy forward. Default: 224.
    """

    def __init__(self,
                 backbone: Union[Dict[str, Any], str, nn.Module],
                 out_index: int = -1,
                 stride: Optional[int] = None,
                 channels: Optional[int] = None,
                 mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD,
                 channel_norm: bool = False,
                 frozen: bool = True,
                 weights: Optional[str] = None,
                 timm_kwargs: Optional[Dict[str, Any]] = None,
                 probe_size: int = 224) -> None:
        super().__init__()
        if weights is not None and not osp.isfile(weights):
            raise FileNotFoundError(
                f'Featurizer: weights file {weights!r} does not exist (set the '
                'config field "weights" to a local checkpoint path)')
        self.backbone = self._build_backbone(backbone, timm_kwargs, weights)
        self.out_index = int(out_index)
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f'Featurizer: mean/std must be 3 values (std > 0), got {mean}, {std}')
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        if stride is None or channels is None:
            probe_stride, probe_channels = self._probe(probe_size)
            stride = probe_stride if stride is None else stride
            channels = probe_channels if channels is None else channels
        self.stride = int(stride)
        self.channels = int(channels)
        self.norm = ChannelNorm(self.channels) if channel_norm else None
        self.frozen = frozen
        if frozen:
            for param in self.parameters():
                param.requires_grad_(False)
            self.eval()

    @staticmethod
    def _build_backbone(backbone: Union[Dict[str, Any], str, nn.Module],
                        timm_kwargs: Optional[Dict[str, Any]],
                        weights: Optional[str]) -> nn.Module:
        if isinstance(backbone, str):
            kwargs = dict(features_only=True)
            if 'vit' in backbone or 'deit' in backbone:
                kwargs['dynamic_img_size'] = True
            kwargs.update(timm_kwargs or {})
            if weights is not None:
                return _timm_with_weights(backbone, kwargs, weights)
            import timm
            return timm.create_model(backbone, pretrained=False, **kwargs)
        if isinstance(backbone, dict):
            if 'type' not in backbone:
                raise ValueError(f'Featurizer: backbone config needs a "type", got {backbone!r}')
            backbone = MODELS.build(copy.deepcopy(backbone))
        if isinstance(backbone, nn.Module):
            if weights is not None:
                _load_weights(backbone, weights)
            return backbone
        raise ValueError(f'Featurizer: backbone must be a config dict, a timm name or a module, '
                         f'got {type(backbone).__name__}')

    @torch.no_grad()
    def _probe(self, size: int) -> tuple:
        was_training = self.backbone.training
        self.backbone.eval()
        feats = self._select(self.backbone(torch.zeros(1, 3, size, size)))
        self.backbone.train(was_training)
        return max(1, round(size / feats.shape[-1])), int(feats.shape[1])

    def _select(self, outputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        if isinstance(outputs, Tensor):
            return outputs
        outputs = list(outputs)
        if not -len(outputs) <= self.out_index < len(outputs):
            raise ValueError(f'Featurizer: out_index={self.out_index} but the backbone '
                             f'returns {len(outputs)} maps')
        return outputs[self.out_index]

    def train(self, mode: bool = True) -> 'Featurizer':
        """Switch mode; a frozen featurizer always stays in eval mode."""
        return super().train(False if self.frozen else mode)

    def normalize(self, image01: Tensor) -> Tensor:
        """``(image01 - mean) / std``, mean/std in 0..1 units.

        Args:
            image01 (Tensor): ``[B, 3, H, W]`` RGB in ``[0, 1]``.

        Returns:
            Tensor: the normalised image, the backbone's input (and JBU's guidance).
        """
        return (image01 - self.mean.to(image01)) / self.std.to(image01)

    def feature_size(self, height: int, width: int) -> tuple:
        """Approximate ``(h, w)`` of the features of an ``height x width`` image."""
        return (-(-height // self.stride), -(-width // self.stride))

    def forward(self, image01: Tensor) -> Tensor:
        """Features of an image.

        Args:
            image01 (Tensor): ``[B, 3, H, W]`` RGB in ``[0, 1]``, H and W at least ``stride``.

        Returns:
            Tensor: ``[B, channels, h, w]``.
        """
        if image01.dim() != 4 or image01.shape[1] != 3:
            raise ValueError(f'Featurizer: image must be [B, 3, H, W], got {tuple(image01.shape)}')
        if min(image01.shape[-2:]) < self.stride:
            raise ValueError(f'Featurizer: image {tuple(image01.shape[-2:])} is smaller than '
                             f'the stride {self.stride} (no feature cell would fit)')
        feats = self._select(self.backbone(self.normalize(image01)))
        if feats.shape[1] != self.channels:
            raise RuntimeError(f'Featurizer: backbone returned {feats.shape[1]} channels, '
                               f'channels={self.channels}')
        if self.norm is not None:
            feats = self.norm(feats)
        return feats

    def extra_repr(self) -> str:
        return (f'stride={self.stride}, channels={self.channels}, out_index={self.out_index}, '
                f'channel_norm={self.norm is not None}, frozen={self.frozen}')


def build_featurizer(cfg: Union[str, Dict[str, Any], nn.Module], **overrides: Any) -> nn.Module:
    """Build a featurizer.

    Args:
        cfg (str | dict | nn.Module): a preset name of :data:`FEATURIZER_PRESETS`
            (e.g. ``'efficientnet_lite0_s16'``), a config dict (``type`` defaults
            to ``'Featurizer'``; ``dict(preset=NAME, **keys)`` is the preset with
            ``keys`` replaced), a timm model name, or a module (returned as is).
        **overrides: config keys replacing the preset's / dict's (e.g. ``channel_norm=True``).

    Returns:
        nn.Module: the featurizer.
    """
    if isinstance(cfg, nn.Module):
        return cfg
    if isinstance(cfg, str):
        cfg = copy.deepcopy(FEATURIZER_PRESETS[cfg]) if cfg in FEATURIZER_PRESETS else dict(
            type='Featurizer', backbone=cfg)
    if not isinstance(cfg, dict):
        raise ValueError(f'featurizer config must be a name, a dict or a module, got {cfg!r}')
    cfg = copy.deepcopy(dict(cfg))
    preset = cfg.pop('preset', None)
    if preset is not None:
        if preset not in FEATURIZER_PRESETS:
            raise KeyError(f'featurizer preset {preset!r} is unknown; known: '
                           f'{", ".join(sorted(FEATURIZER_PRESETS))}')
        cfg = {**copy.deepcopy(FEATURIZER_PRESETS[preset]), **cfg}
    cfg.update(overrides)
    cfg.setdefault('type', 'Featurizer')
    return MODELS.build(cfg)
