"""Random projections of features (FeatUp compares views in a random 30-d space)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def random_projection(batch: int, channels: int, dim: int,
                      generator: Optional[torch.Generator] = None,
                      device: Optional[torch.device] = None) -> Tensor:
    """Gaussian ``[B, C, dim]`` matrices whose columns have unit L2 norm over ``C``."""
    proj = torch.randn(batch, channels, dim, generator=generator)
    proj = proj / proj.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return proj if device is None else proj.to(device)


def project(feats: Tensor, proj: Optional[Tensor]) -> Tensor:
    """``[B, C, h, w] x [B, C, D] -> [B, D, h, w]``; identity when ``proj`` is None."""
    if proj is None:
        return feats
    return torch.einsum('bchw,bcd->bdhw', feats, proj.to(feats))
