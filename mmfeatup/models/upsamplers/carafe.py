"""CARAFE: Content-Aware ReAssembly of FEatures (Wang et al., ICCV 2019), in PyTorch."""
from __future__ import annotations

import importlib
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from mmfeatup.models.layers.windows import reassemble
from .base import FixedRatioUpsampler, Size, check_odd


def mmcv_carafe_available(tensor: Tensor) -> bool:
    """Whether a full mmcv's compiled ``carafe`` op can run on ``tensor`` (CUDA only)."""
    if not tensor.is_cuda:
        return False
    try:
        ext = importlib.import_module('mmcv._ext')
        return hasattr(ext, 'carafe_forward') and getattr(ext, '__file__', None) is not None
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return False


@UPSAMPLERS.register_module(name='CARAFE')
class CARAFEUpsampler(FixedRatioUpsampler):
    """CARAFE with the paper's defaults (``C_m=64``, ``k_encoder=3``, ``k_up=5``).

    1. Kernel prediction: ``Conv1x1(C -> C_m)``, ``Conv(k_enc)(C_m -> s^2 k_up^2)``,
       pixel shuffle to ``[B, k_up^2, sh, sw]``, softmax over the ``k_up^2`` taps.
    2. Reassembly: each output pixel is the kernel-weighted sum of the
       ``k_up x k_up`` source neighbourhood of its source cell (zero padding),
       :func:`~mmfeatup.models.layers.windows.reassemble`.

    Parameters are laid out like ``mmcv.ops.CARAFEPack`` (``channel_compressor``,
    ``content_encoder``), so its state dicts load; on CUDA with a full mmcv the
    compiled ``mmcv.ops.carafe`` runs step 2 (``use_mmcv=True``, default), and this
    file's PyTorch path everywhere else. Integer ratio fixed at build time
    (``scale_factor``, default 2); others raise ValueError.

    Args:
        in_channels (int): feature channels ``C`` (kept).
        guidance_channels (int): unused. Default: 3.
        scale_factor (int, optional): the ratio. Default: None (= 2).
        up_kernel (int): reassembly kernel size ``k_up``. Default: 5.
        encoder_kernel (int): kernel-prediction conv size. Default: 3.
        compressed_channels (int): ``C_m``. Default: 64.
        use_mmcv (bool): use mmcv's compiled op when available. Default: True.
    """

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, up_kernel: int = 5,
                 encoder_kernel: int = 3, compressed_channels: int = 64,
                 use_mmcv: bool = True) -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        scale = self.scale
        self.up_kernel = check_odd('up_kernel', up_kernel)
        encoder_kernel = check_odd('encoder_kernel', encoder_kernel)
        self.use_mmcv = use_mmcv
        self.channel_compressor = nn.Conv2d(in_channels, compressed_channels, 1)
        self.content_encoder = nn.Conv2d(compressed_channels, scale * scale * up_kernel * up_kernel,
                                         encoder_kernel, padding=encoder_kernel // 2)
        nn.init.xavier_uniform_(self.channel_compressor.weight)
        nn.init.zeros_(self.channel_compressor.bias)
        nn.init.normal_(self.content_encoder.weight, std=0.001)
        nn.init.zeros_(self.content_encoder.bias)

    def predict_kernels(self, source: Tensor) -> Tensor:
        """Normalised reassembly kernels ``[B, k_up^2, sh, sw]``."""
        logits = self.content_encoder(self.channel_compressor(source))
        logits = F.pixel_shuffle(logits, self.scale)
        return logits.softmax(dim=1)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        kernels = self.predict_kernels(source)
        if self.use_mmcv and mmcv_carafe_available(source):
            from mmcv.ops import carafe  # full mmcv only
            return carafe(source.contiguous(), kernels.contiguous(), self.up_kernel, 1, self.scale)
        return reassemble(source, kernels, self.up_kernel)
