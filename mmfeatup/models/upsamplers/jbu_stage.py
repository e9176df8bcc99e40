"""One stage of FeatUp's learned Joint Bilateral Upsampler (``docs/design.md`` section 1).

:class:`JBULearnedRange` upsamples features to the size of its guidance image with a
per-pixel filter::

    W = normalise(softmax_t(tau <K[p + t], K[p]>) * Gauss(t; sigma))
    W = W + 0.1 * fixup(cat[W, G])               # not renormalised
    out = adaptive_conv(reflect_pad(bicubic(S)), W)

On CPU the last line runs as one op, :func:`mmfeatup.ops.bicubic_adaptive_conv`, which
never builds the resized map, forward or backward (its CPU backward is fused too). CUDA keeps
the two-step form (banded resize, then ``adaptive_conv``) until the fused CUDA kernel has run
and been timed on a GPU.

Parameter names equal the authors', so their released stage weights load unchanged.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from mmfeatup.models.layers.bicubic_resize import bicubic_resize
from mmfeatup.ops import adaptive_conv, bicubic_adaptive_conv, jbu_upsample, range_kernel
from mmfeatup.ops.reference import spatial_kernel_reference

#: Range of the range-kernel temperature ``tau = exp(range_temp)``.
TEMPERATURE_RANGE = (1e-4, 1e4)


def gaussian_spatial_kernel(sigma: Tensor, radius: int) -> Tensor:
    """Spatial Gaussian of one JBU stage on a ``linspace(-1, 1, 2r+1)`` grid.

    Args:
        sigma (Tensor): the (learnable) 0-d standard deviation.
        radius (int): window radius ``r``.

    Returns:
        Tensor: ``[1, (2r+1)^2, 1, 1]``, taps row-major.
    """
    return spatial_kernel_reference(sigma, radius).view(1, -1, 1, 1)


class JBULearnedRange(nn.Module):
    """One JBU stage: upsample features to the size of the guidance image.

    Attribute names (``range_temp``, ``range_proj``, ``fixup_proj``,
    ``sigma_spatial``) and ``Sequential`` layouts equal the authors' so that
    their state dicts load unchanged.

    Args:
        guidance_dim (int): channels of the guidance image. Default: 3.
        key_dim (int): channels ``D`` of the range keys. Default: 32.
        radius (int): filter radius ``r`` (``(2r+1)^2`` taps). Default: 3.
        fixup (bool): whether the stage has the learned kernel fixup
            (``W += 0.1 * fixup(cat[W, G])``). Without it the stage runs as one
            fused op (:func:`mmfeatup.ops.jbu_upsample`). Default: True.
    """

    def __init__(self,
                 guidance_dim: int = 3,
                 key_dim: int = 32,
                 radius: int = 3,
                 fixup: bool = True) -> None:
        super().__init__()
        if int(radius) < 1:
            raise ValueError(f'radius must be >= 1, got {radius}')
        if int(key_dim) < 1:
            raise ValueError(f'key_dim must be >= 1, got {key_dim}')
        self.guidance_dim = int(guidance_dim)
        self.key_dim = int(key_dim)
        self.radius = int(radius)
        self.diameter = 2 * self.radius + 1
        taps = self.diameter**2

        self.range_temp = nn.Parameter(torch.tensor(0.0))
        self.range_proj = nn.Sequential(
            nn.Conv2d(self.guidance_dim, self.key_dim, 1),
            nn.GELU(),
            nn.Dropout2d(0.1),
            nn.Conv2d(self.key_dim, self.key_dim, 1),
        )
        self.fixup_proj: Optional[nn.Sequential] = None
        if fixup:
            self.fixup_proj = nn.Sequential(
                nn.Conv2d(taps + self.guidance_dim, taps, 1),
                nn.GELU(),
                nn.Dropout2d(0.1),
                nn.Conv2d(taps, taps, 1),
            )
        self.sigma_spatial = nn.Parameter(torch.tensor(1.0))

    @property
    def has_fixup(self) -> bool:
        """Whether the stage applies the learned kernel fixup."""
        return self.fixup_proj is not None

    def temperature(self) -> Tensor:
        """``tau = exp(range_temp)`` clamped to :data:`TEMPERATURE_RANGE`."""
        return self.range_temp.exp().clamp(*TEMPERATURE_RANGE)

    def spatial_kernel(self) -> Tensor:
        """The spatial Gaussian ``[1, T, 1, 1]``."""
        return gaussian_spatial_kernel(self.sigma_spatial, self.radius)

    def normalized_kernel(self, guidance: Tensor) -> Tensor:
        """Range x spatial kernel normalised over the taps (no fixup).

        Args:
            guidance (Tensor): guidance ``[B, guidance_dim, H, W]`` at the output size.

        Returns:
            Tensor: ``[B, T, H, W]``.
        """
        keys = self.range_proj(guidance)
        kernel = range_kernel(keys, self.temperature(), self.radius) * self.spatial_kernel()
        return kernel / kernel.sum(1, keepdim=True).clamp_min(1e-7)

    def kernel(self, guidance: Tensor) -> Tensor:
        """The per-pixel filter ``W`` ``[B, T, H, W]`` including the fixup (if any)."""
        kernel = self.normalized_kernel(guidance)
        if self.fixup_proj is not None:
            kernel = kernel + 0.1 * self.fixup_proj(torch.cat([kernel, guidance], dim=1))
        return kernel

    def forward(self, source: Tensor, guidance: Tensor) -> Tensor:
        """Upsample ``source`` to the guidance's size.

        Args:
            source (Tensor): features ``[B, C, h, w]``.
            guidance (Tensor): image ``[B, guidance_dim, H, W]``, ``H, W > r``.

        Returns:
            Tensor: ``[B, C, H, W]``.
        """
        size = tuple(guidance.shape[-2:])
        if self.fixup_proj is None:
            # bicubic to the guidance's size, reflect-padded by r, in one banded pass.
            padded = bicubic_resize(source, size, pad=self.radius)
            return jbu_upsample(padded, self.range_proj(guidance), self.temperature(),
                                self.sigma_spatial, self.radius)
        if self._two_step(source):
            # resized before the kernel: the resize's temporaries are freed before the
            # kernel's saved activations exist (a lower peak in training)
            padded = bicubic_resize(source, size, pad=self.radius)
            return adaptive_conv(padded, self.kernel(guidance))
        return bicubic_adaptive_conv(source, self.kernel(guidance))

    @staticmethod
    def _two_step(source: Tensor) -> bool:
        """Whether the two-step form runs: off CPU (the fused op's CUDA kernel compiles and
        shares its tap arithmetic with the tested CPU kernel, but has not yet run or been timed
        on a GPU)."""
        return source.device.type != 'cpu'

    def extra_repr(self) -> str:
        return (f'guidance_dim={self.guidance_dim}, key_dim={self.key_dim}, '
                f'radius={self.radius}, fixup={self.has_fixup}')
