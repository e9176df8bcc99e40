"""GuidedEncoderDecoder: an ``EncoderDecoder`` whose neck also sees the input image.

The one mechanism by which the image reaches :class:`~mmfeatup.models.necks.FeatUpNeck`:
:meth:`GuidedEncoderDecoder.extract_feat` calls ``neck(features, image)``.
Every path of ``EncoderDecoder`` goes through ``extract_feat`` (``loss``,
``predict``/``whole_inference``, ``slide_inference`` per crop -- each crop gets
its own image crop -- and ``_forward``), and TTA calls ``predict`` per view,
so all of them keep working unchanged.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from mmseg.models.segmentors import EncoderDecoder
from torch import Tensor

from mmfeatup.registry import MODELS


@MODELS.register_module()
class GuidedEncoderDecoder(EncoderDecoder):
    """``EncoderDecoder`` that passes the (normalised, padded) input image to its neck.

    Necks that declare ``needs_image`` (or accept a second argument, as
    ``FeatUpNeck`` does) receive ``neck(features, image)``; other necks are
    called as in ``EncoderDecoder``. All arguments are ``EncoderDecoder``'s.

    A neck that keeps every level's channels (``channels_from_head = True``, as
    ``FeatUpNeck``) and whose config sets no ``in_channels`` gets the decode
    head's, so a config states the backbone's channels once.
    """

    def __init__(self, backbone: Dict[str, Any], decode_head: Dict[str, Any],
                 neck: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        if isinstance(neck, dict) and neck.get('in_channels') is None:
            neck_type = neck.get('type')
            neck_cls = MODELS.get(neck_type) if isinstance(neck_type, str) else neck_type
            if getattr(neck_cls, 'channels_from_head', False):
                neck = {**neck, 'in_channels': decode_head['in_channels']}
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck, **kwargs)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone features, passed with the image through the neck.

        Args:
            inputs (Tensor): images ``[B, 3, H, W]`` after the data preprocessor.

        Returns:
            list[Tensor]: the features the decode head receives.
        """
        x = self.backbone(inputs)
        if self.with_neck:
            if hasattr(self.neck, 'needs_image'):
                x = self.neck(x, inputs)
            else:
                x = self.neck(x)
        return x
