"""Fourier features of pixel coordinates (and colours), as FeatUp's implicit network and
LoftUp use them: inputs ``(y, x[, r, g, b])`` with ``y, x`` on ``linspace(-1, 1)``, scaled
by the frequencies ``exp(linspace(-2, 10, F))``."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def coordinate_inputs(image: Tensor, color_feats: bool = True) -> Tensor:
    """``[B, 2 (+3), H, W]``: the row and column coordinates in ``[-1, 1]`` (and the colours).

    Args:
        image (Tensor): ``[B, 3, H, W]`` (only its shape counts without ``color_feats``).
        color_feats (bool): append the image's channels. Default: True.
    """
    batch, _, height, width = image.shape
    rows = torch.linspace(-1, 1, height, device=image.device, dtype=image.dtype)
    cols = torch.linspace(-1, 1, width, device=image.device, dtype=image.dtype)
    grid = torch.stack(torch.meshgrid(rows, cols, indexing='ij'))[None]
    grid = grid.expand(batch, 2, height, width)
    return torch.cat([grid, image], 1) if color_feats else grid


def scaled_by_frequencies(inputs: Tensor, n_freqs: int,
                          freq_dtype: Optional[torch.dtype] = None) -> Tensor:
    """``[B, F, D, H, W]``: every input channel times each of ``exp(linspace(-2, 10, F))``
    (computed in ``freq_dtype``, default the inputs' dtype, then cast to it)."""
    freqs = torch.exp(torch.linspace(-2, 10, n_freqs, device=inputs.device,
                                     dtype=freq_dtype or inputs.dtype)).to(inputs.dtype)
    return inputs[:, None] * freqs.view(1, -1, 1, 1, 1)
