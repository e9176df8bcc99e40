"""Inference-fast JBU: the JBU stack without the per-stage kernel fixup.

Each stage of :class:`JBUFused` runs as one fused op
(:func:`mmfeatup.ops.jbu_upsample`: range kernel, spatial kernel,
normalisation and adaptive convolution without materialising the
``[B, T, H, W]`` filter). The learned fixup ``W += 0.1 * fixup(cat[W, G])``
needs that filter, so it is dropped: a JBUFused built from a trained JBUStack
(:meth:`JBUFused.from_jbu_stack`) APPROXIMATES it. The final residual
``x + 0.1 * Conv1x1(x)`` is kept (it is cheap and exact). How far the two are
apart is measured in ``tests/test_models/test_upsamplers/test_jbu_fused.py``.
"""
from __future__ import annotations

from typing import ClassVar

from mmfeatup.registry import UPSAMPLERS
from .jbu import JBUStack


@UPSAMPLERS.register_module(name='JBUFused')
class JBUFused(JBUStack):
    """:class:`JBUStack` whose stages have no kernel fixup; same arguments.

    Its state dict is a JBUStack's minus the ``up*.fixup_proj.*`` entries.
    """

    stage_fixup: ClassVar[bool] = False

    @classmethod
    def from_jbu_stack(cls, stack: JBUStack) -> 'JBUFused':
        """Build a JBUFused with a JBUStack's weights, dropping the stage fixups.

        The result approximates ``stack``: every stage omits the term
        ``0.1 * fixup(cat[W, G])`` of its filter. It is exact only when those
        terms vanish (e.g. zero last fixup convs).

        Args:
            stack (JBUStack): the source model (left unchanged).

        Returns:
            JBUFused: on the same device/dtype and in the same train/eval mode.
        """
        if not isinstance(stack, JBUStack):
            raise TypeError(f'stack must be a JBUStack, got {type(stack).__name__}')
        fused = cls(stack.in_channels,
                    guidance_channels=stack.guidance_channels,
                    scale_factor=stack.scale_factor,
                    key_dim=stack.key_dim,
                    radius=stack.radius,
                    num_stages=stack.num_stages)
        state = {
            key: value
            for key, value in stack.state_dict().items()
            if not (key.startswith('up') and '.fixup_proj.' in key)
        }
        fused.load_state_dict(state, strict=True)
        reference = next(stack.parameters())
        fused.to(device=reference.device, dtype=reference.dtype)
        return fused.train(stack.training)
