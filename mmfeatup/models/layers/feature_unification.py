"""AnyUp's feature-agnostic first layer (Wimmer et al. 2025): no parameter depends on the
number of source channels, so one upsampler serves any encoder."""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor, nn



class LearnedFeatureUnification(nn.Module):
    """AnyUp's feature-agnostic layer: any number of channels in, ``out_channels`` out.

    Every input channel ``c`` is convolved with each of ``O`` learned ``k x k`` filters
    (zero padding, divided by the number of taps inside the image), a softmax over
    the filters turns the ``O`` responses into a distribution, and the distributions
    are averaged over the channels:

    ``y[o] = mean_c softmax_o((basis_o * x_c) / n_valid)``.

    Invariant to a permutation of the input channels, defined for any ``C``
    (``layout='paper'``). ``layout='official'`` reproduces the released code, which
    views the ``C*O`` responses (ordered channel-major) as ``[O, C]`` before the
    softmax; that is the same only when ``C = 1``; use it to evaluate the released
    checkpoints exactly.

    Args:
        out_channels (int): filters ``O``.
        kernel_size (int): odd ``k``. Default: 3.
        layout (str): ``'paper'`` or ``'official'``. Default: ``'paper'``.
    """

    def __init__(self, out_channels: int, kernel_size: int = 3, layout: str = 'paper') -> None:
        super().__init__()
        if layout not in ('paper', 'official'):
            raise ValueError(f"layout must be 'paper' or 'official', got {layout!r}")
        if kernel_size < 1 or kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be a positive odd int, got {kernel_size!r}')
        self.out_channels = int(out_channels)
        self.kernel_size = int(kernel_size)
        self.layout = layout
        self.basis = nn.Parameter(torch.randn(out_channels, 1, kernel_size, kernel_size))

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, h, w] -> [B, out_channels, h, w]`` (non-negative, sums to 1 over channels)."""
        batch, channels, height, width = x.shape
        pad = self.kernel_size // 2
        ones = x.new_ones(1, 1, height, width)
        count = F.conv2d(F.pad(ones, [pad] * 4), x.new_ones(1, 1, self.kernel_size,
                                                             self.kernel_size))
        resp = F.conv2d(F.pad(x.reshape(batch * channels, 1, height, width), [pad] * 4),
                        self.basis.to(x.dtype)) / count  # [B*C, O, h, w], n = c*O + o
        if self.layout == 'paper':
            return resp.softmax(1).view(batch, channels, self.out_channels, height,
                                        width).mean(1)
        resp = resp.view(batch, self.out_channels, channels, height, width)
        return resp.softmax(1).mean(2)

    def extra_repr(self) -> str:
        return f'out_channels={self.out_channels}, kernel_size={self.kernel_size}, ' \
               f'layout={self.layout!r}'
