"""Implicit FeatUp: a per-image coordinate network (docs/design.md section 1).

Input per pixel: ``(y, x)`` in ``[-1, 1]`` and the RGB image min-max scaled
to ``[-0.5, 0.5]``; Fourier features of these 5 values at ``n_freqs``
frequencies ``exp(linspace(-2, 10, n_freqs))`` with a learned phase (sin and
cos), plus the raw scaled RGB; then ChannelNorm -> Dropout2d(0.2) -> 1x1
(->hidden) ReLU Dropout2d ChannelNorm 1x1 ReLU 1x1(->out_dim). The output lives
in a PCA space of the backbone's features; :class:`PCAProjector` maps back.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from ..layers import ChannelNorm
from ..layers.fourier import coordinate_inputs, scaled_by_frequencies


def minmax_scale(image: Tensor) -> Tensor:
    """Scale every image of ``[B, C, H, W]`` to ``[-0.5, 0.5]`` (min-max over C, H, W)."""
    flat = image.flatten(1)
    low = flat.min(1)[0].view(-1, 1, 1, 1)
    high = flat.max(1)[0].view(-1, 1, 1, 1)
    return (image - low) / (high - low).clamp_min(1e-8) - 0.5


class FourierFeatures(nn.Module):
    """Fourier features of pixel coordinates and colours.

    Args:
        n_freqs (int): frequencies. Default: 30.
        color_feats (bool): include the RGB values as inputs. Default: True.
    """

    def __init__(self, n_freqs: int = 30, color_feats: bool = True) -> None:
        super().__init__()
        self.n_freqs = int(n_freqs)
        self.color_feats = color_feats
        self.in_dims = 5 if color_feats else 2
        self.phase = nn.Parameter(torch.randn(self.n_freqs, self.in_dims) * 0.1)

    @property
    def out_channels(self) -> int:
        return 2 * self.n_freqs * self.in_dims + (3 if self.color_feats else 0)

    def forward(self, image: Tensor) -> Tensor:
        """``[B, 3, H, W]`` scaled image -> ``[B, out_channels, H, W]``."""
        angles = scaled_by_frequencies(coordinate_inputs(image, self.color_feats),
                                       self.n_freqs, torch.float32)  # [B, F, D, H, W]
        angles = angles + self.phase.view(1, self.n_freqs, self.in_dims, 1, 1)
        feats = [torch.sin(angles).flatten(1, 2), torch.cos(angles).flatten(1, 2)]
        if self.color_feats:
            feats.append(image)
        return torch.cat(feats, 1)


class ImplicitFeatUp(nn.Module):
    """The per-image implicit feature network.

    Args:
        out_dim (int): output channels (the PCA dimension). Default: 128.
        hidden (int): hidden channels. Default: 128.
        n_freqs (int): Fourier frequencies. Default: 30.
        color_feats (bool): use colours as inputs. Default: True.
        dropout (float): Dropout2d probability. Default: 0.2.
    """

    def __init__(self, out_dim: int = 128, hidden: int = 128, n_freqs: int = 30,
                 color_feats: bool = True, dropout: float = 0.2) -> None:
        super().__init__()
        self.fourier = FourierFeatures(n_freqs, color_feats)
        start = self.fourier.out_channels
        self.net = nn.Sequential(
            ChannelNorm(start), nn.Dropout2d(dropout), nn.Conv2d(start, hidden, 1), nn.ReLU(),
            nn.Dropout2d(dropout), ChannelNorm(hidden), nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, out_dim, 1))
        self.out_dim = int(out_dim)

    def forward(self, image01: Tensor, output_size: Optional[Sequence[int]] = None) -> Tensor:
        """Features at ``output_size`` (default: the image size).

        Args:
            image01 (Tensor): ``[B, 3, H, W]`` RGB in ``[0, 1]``.
            output_size (Sequence[int], optional): ``(H', W')``; the image is
                resized (bilinear) to it first.

        Returns:
            Tensor: ``[B, out_dim, H', W']``.
        """
        if image01.dim() != 4 or image01.shape[1] != 3:
            raise ValueError(f'ImplicitFeatUp: image must be [B, 3, H, W], got '
                             f'{tuple(image01.shape)}')
        if output_size is not None and tuple(output_size) != tuple(image01.shape[-2:]):
            image01 = nn.functional.interpolate(image01, size=tuple(int(s) for s in output_size),
                                                mode='bilinear', align_corners=False)
        return self.net(self.fourier(minmax_scale(image01)))


class PCAProjector(nn.Module):
    """PCA of feature vectors: ``project`` to ``dim`` components and ``unproject`` back.

    Args:
        feats (Tensor, optional): ``[N, C, h, w]`` samples to fit on now; or None
            to allocate for ``channels`` and :meth:`fit` later (e.g. in a model
            whose buffers a checkpoint restores).
        dim (int): components to keep (at most ``C``). Default: 128.
        channels (int, optional): ``C`` when ``feats`` is None.
    """

    def __init__(self, feats: Optional[Tensor] = None, dim: int = 128,
                 channels: Optional[int] = None) -> None:
        super().__init__()
        if feats is None and channels is None:
            raise ValueError('PCAProjector: give feats, or channels to fit later')
        channels = int(feats.shape[1] if feats is not None else channels)
        dim = int(min(dim, channels))
        self.register_buffer('mean', torch.zeros(channels))
        self.register_buffer('components', torch.zeros(dim, channels))  # [dim, C]
        if feats is not None:
            self.fit(feats)

    @torch.no_grad()
    def fit(self, feats: Tensor) -> 'PCAProjector':
        """Fit the mean and the leading components to ``feats`` ``[N, C, h, w]``."""
        samples = feats.permute(0, 2, 3, 1).reshape(-1, feats.shape[1]).float()
        if samples.shape[0] < self.dim:
            raise ValueError(f'PCAProjector.fit: {samples.shape[0]} feature vectors '
                             f'({tuple(feats.shape)}) give at most {samples.shape[0]} components, '
                             f'{self.dim} wanted: use more views, a larger image or a smaller '
                             'pca_dim')
        mean = samples.mean(0)
        _, _, v = torch.linalg.svd(samples - mean, full_matrices=False)
        self.mean.copy_(mean)
        self.components.copy_(v[:self.dim])
        return self

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    def project(self, feats: Tensor) -> Tensor:
        """``[B, C, h, w] -> [B, dim, h, w]``."""
        centred = feats - self.mean.view(1, -1, 1, 1)
        return torch.einsum('bchw,dc->bdhw', centred, self.components)

    def unproject(self, reduced: Tensor) -> Tensor:
        """``[B, dim, h, w] -> [B, C, h, w]``."""
        return (torch.einsum('bdhw,dc->bchw', reduced, self.components) +
                self.mean.view(1, -1, 1, 1))
