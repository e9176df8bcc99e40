"""SAPA: Similarity-Aware Point Affiliation for feature upsampling (Lu et al., NeurIPS 2022).

SAPA-B, the released base operator: the upsampling kernel of an output point is
the softmax similarity between its (fine) guidance embedding and the embeddings
of the ``k x k`` low-res source points around its source cell.

Parity with the authors' code (github.com/poppinace/sapa, ``SAPA.py`` with the
``sim``/``atn`` CUDA ops): window taps outside the source map are zero-padded
keys, i.e. they enter the softmax with logit 0 and reassemble a zero value
(``border='zero'``, the default). Their state dicts load after
:func:`convert_official_sapa_state_dict`; the golden test
``tests/test_models/test_upsamplers/test_parity_sapa_fade.py`` checks outputs.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

from torch import Tensor, nn

from mmfeatup.registry import UPSAMPLERS
from mmfeatup.utils.checkpoint_keys import rename_keys
from ..layers import ChannelNorm
from mmfeatup.models.layers.windows import reassemble, window_similarity, window_valid_mask
from .base import BaseUpsampler, Size, check_odd, resize_guidance

#: official ``SAPA`` parameter name -> ours (``q``/``k`` are ``nn.Linear`` there).
#: official ``SAPA`` module -> ours (``q``/``k`` are ``nn.Linear`` there); the keys it must have.
_OFFICIAL_MODULES = (('norm_y.', 'norm_guidance.norm.'), ('norm_x.', 'norm_source.norm.'),
                     ('q.', 'query.'), ('k.', 'key.'))
_OFFICIAL_REQUIRED = ('norm_y.weight', 'norm_y.bias', 'norm_x.weight', 'norm_x.bias', 'q.weight',
                      'k.weight')  # q.bias / k.bias only with qkv_bias=True


def convert_official_sapa_state_dict(state_dict: Mapping[str, Tensor],
                                     prefix: str = '') -> Dict[str, Tensor]:
    """The authors' ``SAPA`` state dict as a :class:`SAPAUpsampler` state dict.

    Renames ``norm_y``/``norm_x``/``q``/``k`` (guidance = their ``y``, the encoder
    feature; source = their ``x``) and reshapes the ``nn.Linear`` weights
    ``[E, C]`` to 1x1 conv weights ``[E, C, 1, 1]``.

    Args:
        state_dict (Mapping[str, Tensor]): contains the official keys (after
            ``prefix``); other keys are ignored only when ``prefix`` is given.
        prefix (str): prefix of the SAPA keys in ``state_dict`` (e.g.
            ``'decode_head.upsamplers.0.'``). Default: ``''``.

    Returns:
        dict: loads into ``SAPAUpsampler(...).load_state_dict(..., strict=True)``.

    Raises:
        KeyError: an official key is missing, or (without ``prefix``) a key is unknown.
    """
    out = rename_keys(state_dict, _OFFICIAL_MODULES, prefix, 'SAPA', _OFFICIAL_REQUIRED)
    for ours in ('query.weight', 'key.weight'):  # nn.Linear [E, C] -> 1x1 conv [E, C, 1, 1]
        out[ours] = out[ours][:, :, None, None]
    return out


@UPSAMPLERS.register_module(name='SAPA')
class SAPAUpsampler(BaseUpsampler):
    """SAPA-B.

    ``q = Linear(LN(guidance))`` at the output resolution, ``k = Linear(LN(source))``
    at the source resolution, kernel ``softmax_t <q[P], k[p + t]>`` over the
    ``k_up x k_up`` window of the source cell ``p`` of ``P``, then reassembly of
    the *un-normalised* source (zero padding).

    Border (``border``): with ``'zero'`` (default, the official CUDA kernels and
    the authors' PyTorch reference) a tap outside the map has a zero key, so it
    takes logit 0 and softmax weight, and reassembles zero: border outputs shrink
    towards 0 by that weight, and the key/source-norm biases matter (they shift
    only the in-map logits). ``'exclude'`` masks those taps to ``-inf`` so border
    kernels are convex combinations of in-map points (a constant map stays
    constant up to the border); it is NOT the official operator, and it makes
    ``key.bias`` and ``norm_source.norm.bias`` exactly gradient-free (they add the
    same ``<q, b>`` to every remaining tap). Kept only for models trained with it
    (mmfeatup before the parity fix).

    Guidance: a finer feature map (``guidance_channels`` = its channels, the
    paper's encoder feature) or the image (``guidance_channels=3``: the image
    plays the encoder feature; FeatUp's setting). The guidance is area-resized to
    the output size; any output size works (non-integer ratios affiliate each
    output point with the source cell containing it; the official op supports
    integer ratios only, where both agree).

    Official weights: ``load_state_dict(convert_official_sapa_state_dict(sd))``.

    Args:
        in_channels (int): source channels ``C`` (kept; official ``dim_x``).
        guidance_channels (int): guidance channels (official ``dim_y``). Default: 3.
        scale_factor (float, optional): ratio when ``output_size`` is not given.
        up_kernel (int): window size ``k_up``. Default: 5.
        embedding_dim (int): query/key dimension. Default: 64.
        qkv_bias (bool): bias in the query/key projections. Default: True.
        border (str): ``'zero'`` (official) or ``'exclude'``. Default: ``'zero'``.
    """

    guidance_type = 'feature'
    requires_guidance = True

    def __init__(self, in_channels: int, guidance_channels: int = 3,
                 scale_factor: Optional[float] = None, up_kernel: int = 5,
                 embedding_dim: int = 64, qkv_bias: bool = True, border: str = 'zero') -> None:
        super().__init__(in_channels, guidance_channels, scale_factor)
        up_kernel = check_odd('up_kernel', up_kernel)
        if border not in ('zero', 'exclude'):
            raise ValueError(f"border must be 'zero' or 'exclude', got {border!r}")
        self.up_kernel = up_kernel
        self.border = border
        self.norm_guidance = ChannelNorm(guidance_channels)
        self.norm_source = ChannelNorm(in_channels)
        self.query = nn.Conv2d(guidance_channels, embedding_dim, 1, bias=qkv_bias)
        self.key = nn.Conv2d(in_channels, embedding_dim, 1, bias=qkv_bias)
        for conv in (self.query, self.key):  # official: timm trunc_normal_(std=.02), zero bias
            nn.init.trunc_normal_(conv.weight, std=0.02)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def upsample(self, source: Tensor, guidance: Optional[Tensor], size: Size) -> Tensor:
        guidance = resize_guidance(guidance, size, mode='area')
        query = self.query(self.norm_guidance(guidance))
        keys = self.key(self.norm_source(source))
        logits = window_similarity(query, keys, self.up_kernel)  # zero-padded keys
        if self.border == 'exclude':
            valid = window_valid_mask(source.shape[-2:], size, self.up_kernel, source.device)
            logits = logits.masked_fill(~valid, float('-inf'))
        return reassemble(source, logits.softmax(dim=1), self.up_kernel)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, up_kernel={self.up_kernel}, border={self.border!r}'
