"""Downsamplers from image-resolution features back to the backbone's grid.

* :class:`SimpleDownsampler`: a learned non-negative ``k x k`` kernel (sums to 1),
  depthwise, stride = the backbone's stride.
* :class:`AttentionDownsampler`: per-window softmax attention over the ``k x k``
  taps of the blurred features, logits ``Linear(C -> 1)(tap features) * w + b``
  with learned ``w, b`` (and the authors' per-window logit dropout in training).
* :func:`area_downsample`: the fixed, parameter-free average over each stride
  window, used for evaluation.

All map ``[B, C, H, W]`` to an explicit ``(h, w)`` grid: the input is first
resized (bilinear) to ``(h * stride, w * stride)`` when it is not that size
already, then windows of ``kernel_size`` centred on each stride cell are used
(replicate padding of ``kernel_size - stride`` in total).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _to_stride_grid(hr: Tensor, out_size: Sequence[int], stride: int) -> Tensor:
    """Resize ``hr`` to exactly ``(h * stride, w * stride)``."""
    target = (int(out_size[0]) * stride, int(out_size[1]) * stride)
    if tuple(hr.shape[-2:]) == target:
        return hr
    return F.interpolate(hr, size=target, mode='bilinear', align_corners=False)


def _pad_for_kernel(x: Tensor, kernel_size: int, stride: int) -> Tensor:
    total = kernel_size - stride
    if total == 0:
        return x
    lo = total // 2
    return F.pad(x, [lo, total - lo, lo, total - lo], mode='replicate')


def _check(hr: Tensor, out_size: Sequence[int], name: str) -> Tuple[int, int]:
    if hr.dim() != 4:
        raise ValueError(f'{name}: features must be [B, C, H, W], got {tuple(hr.shape)}')
    h, w = int(out_size[0]), int(out_size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f'{name}: out_size must be positive, got {tuple(out_size)}')
    if hr.shape[-2] < h or hr.shape[-1] < w:
        raise ValueError(f'{name}: features {tuple(hr.shape[-2:])} are smaller than the '
                         f'target grid {(h, w)}')
    return h, w


def area_downsample(hr: Tensor, out_size: Sequence[int], stride: int) -> Tensor:
    """Fixed evaluation downsampler: mean over each ``stride x stride`` window.

    Args:
        hr (Tensor): ``[B, C, H, W]`` features at (about) image resolution.
        out_size (Sequence[int]): the backbone's grid ``(h, w)``.
        stride (int): the backbone's stride.

    Returns:
        Tensor: ``[B, C, h, w]``.
    """
    _check(hr, out_size, 'area_downsample')
    return F.avg_pool2d(_to_stride_grid(hr, out_size, stride), stride, stride)


class _Downsampler(nn.Module):
    """Common arguments and checks."""

    def __init__(self, stride: int, kernel_size: Optional[int] = None) -> None:
        super().__init__()
        if int(stride) < 1:
            raise ValueError(f'stride must be >= 1, got {stride}')
        kernel_size = int(stride if kernel_size is None else kernel_size)
        if kernel_size < stride:
            raise ValueError(f'kernel_size ({kernel_size}) must be >= the backbone '
                             f'stride ({stride})')
        self.stride = int(stride)
        self.kernel_size = kernel_size

    def extra_repr(self) -> str:
        return f'kernel_size={self.kernel_size}, stride={self.stride}'


class SimpleDownsampler(_Downsampler):
    """Learned blur kernel (non-negative, sums to 1) applied depthwise.

    Args:
        stride (int): the backbone's stride.
        kernel_size (int, optional): window size (>= stride). Default: stride.

    Initialised to a box filter, i.e. :func:`area_downsample` when
    ``kernel_size == stride``. Linear and identical for every channel, so it
    commutes with channel projections (``channelwise_linear``).
    """

    channelwise_linear = True

    def __init__(self, stride: int, kernel_size: Optional[int] = None) -> None:
        super().__init__(stride, kernel_size)
        self.kernel_params = nn.Parameter(torch.ones(self.kernel_size, self.kernel_size))

    def get_kernel(self) -> Tensor:
        """The ``[k, k]`` kernel: ``|params| / sum |params|``."""
        kernel = self.kernel_params.abs()
        return kernel / kernel.sum().clamp_min(1e-12)

    def forward(self, hr: Tensor, out_size: Sequence[int]) -> Tensor:
        """Downsample ``hr`` ``[B, C, H, W]`` to ``[B, C, *out_size]``."""
        h, w = _check(hr, out_size, type(self).__name__)
        x = _pad_for_kernel(_to_stride_grid(hr, (h, w), self.stride), self.kernel_size,
                            self.stride)
        b, c = x.shape[:2]
        kernel = self.get_kernel().to(x)[None, None]
        out = F.conv2d(x.reshape(b * c, 1, *x.shape[-2:]), kernel, stride=self.stride)
        return out.reshape(b, c, h, w)


def gaussian_blur(x: Tensor, kernel_size: int = 5, sigma: float = 1.0) -> Tensor:
    """Depthwise Gaussian blur with reflect borders (kornia's ``gaussian_blur2d`` default).

    Args:
        x (Tensor): ``[B, C, H, W]``.
        kernel_size (int): odd window size. Default: 5.
        sigma (float): standard deviation in pixels. Default: 1.

    Returns:
        Tensor: ``[B, C, H, W]``.
    """
    radius = kernel_size // 2
    offsets = torch.arange(kernel_size, dtype=x.dtype, device=x.device) - radius
    line = torch.exp(-offsets.square() / (2 * sigma * sigma))
    line = line / line.sum()
    channels = x.shape[1]
    padded = F.pad(x, [radius] * 4, mode='reflect')
    rows = F.conv2d(padded, line.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return F.conv2d(rows, line.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)


class AttentionDownsampler(_Downsampler):
    """Attention pooling of each ``k x k`` window (the authors' FeatUp recipe).

    The features are first blurred (5x5 Gaussian, sigma 1, as the authors'
    ``blur_attn=True``); per window, logits ``Linear(C -> 1)(tap features)`` are,
    in training, zeroed for a random ``window_dropout`` share of windows (the
    authors' per-window logit mask; they also apply it at evaluation, this
    module does not), then scaled and shifted per tap (learned ``w, b``) and
    softmax-normalised; the window's (blurred) taps are averaged with them.

    Args:
        channels (int): feature channels ``C``.
        stride (int): the backbone's stride.
        kernel_size (int, optional): window size (>= stride). Default: stride.
        dropout (float): dropout on the tap features before the logit layer.
            Default: 0.2.
        blur (bool): blur the features first. Default: True.
        window_dropout (float): share of windows whose logits are zeroed in
            training. Default: 0.2.
    """

    channelwise_linear = False

    def __init__(self, channels: int, stride: int, kernel_size: Optional[int] = None,
                 dropout: float = 0.2, blur: bool = True, window_dropout: float = 0.2) -> None:
        super().__init__(stride, kernel_size)
        if not 0 <= window_dropout < 1:
            raise ValueError(f'window_dropout must be in [0, 1), got {window_dropout}')
        taps = self.kernel_size * self.kernel_size
        self.channels = int(channels)
        self.blur = bool(blur)
        self.window_dropout = float(window_dropout)
        self.attention_net = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.channels, 1))
        self.w = nn.Parameter(torch.ones(taps) + 0.01 * torch.randn(taps))
        self.b = nn.Parameter(0.01 * torch.randn(taps))

    def attention(self, patches: Tensor) -> Tensor:
        """Softmax weights ``[B, L, T]`` of patches ``[B, L, T, C]``."""
        logits = self.attention_net(patches).squeeze(-1)
        if self.training and self.window_dropout > 0:
            keep = torch.rand(logits.shape[:-1], device=logits.device) > self.window_dropout
            logits = logits * keep.unsqueeze(-1).to(logits.dtype)
        return torch.softmax(logits * self.w + self.b, dim=-1)

    def forward(self, hr: Tensor, out_size: Sequence[int]) -> Tensor:
        """Downsample ``hr`` ``[B, C, H, W]`` to ``[B, C, *out_size]``."""
        h, w = _check(hr, out_size, type(self).__name__)
        if hr.shape[1] != self.channels:
            raise ValueError(f'AttentionDownsampler: features have {hr.shape[1]} channels, '
                             f'channels={self.channels}')
        if self.blur:
            hr = gaussian_blur(hr)
        x = _pad_for_kernel(_to_stride_grid(hr, (h, w), self.stride), self.kernel_size,
                            self.stride)
        b, c = x.shape[:2]
        taps = self.kernel_size * self.kernel_size
        patches = F.unfold(x, self.kernel_size, stride=self.stride)  # [B, C*T, L]
        patches = patches.view(b, c, taps, h * w).permute(0, 3, 2, 1)  # [B, L, T, C]
        attn = self.attention(patches)
        out = torch.einsum('bltc,blt->bcl', patches, attn)
        return out.reshape(b, c, h, w)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, blur={self.blur}, '
                f'window_dropout={self.window_dropout}')


_DOWNSAMPLERS = {'simple': SimpleDownsampler, 'attention': AttentionDownsampler}


def build_downsampler(cfg: Dict[str, Any], channels: int, stride: int) -> nn.Module:
    """Build a learned downsampler.

    Args:
        cfg (dict): ``dict(type='simple' | 'attention', kernel_size=None, ...)``.
        channels (int): feature channels.
        stride (int): the backbone's stride.

    Returns:
        nn.Module: ``forward(hr, out_size) -> [B, C, h, w]``.
    """
    args = dict(cfg)
    kind = args.pop('type', None)
    if kind not in _DOWNSAMPLERS:
        raise ValueError(f'downsampler type must be one of {sorted(_DOWNSAMPLERS)}, got {kind!r}')
    if kind == 'attention':
        args['channels'] = channels
    return _DOWNSAMPLERS[kind](stride=stride, **args)
