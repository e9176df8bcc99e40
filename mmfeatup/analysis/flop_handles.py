"""FLOP (and activation) handles of the ``torch.ops.mmfeatup`` ops for mmengine.

mmengine's :class:`~mmengine.analysis.FlopAnalyzer` traces a model with
``torch.jit.trace`` and counts each graph node with the handle of its kind;
the compiled JBU ops appear as ``mmfeatup::NAME`` nodes, which have no handle
by default ("Unsupported operator mmfeatup::range_kernel"), so a JBU was
under-counted. :func:`register_flop_handles` adds the handles below to
mmengine's module-level default tables
(``mmengine.analysis.complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS`` and
``_DEFAULT_SUPPORTED_ACT_OPS``), which ``FlopAnalyzer.__init__`` and
``ActivationAnalyzer.__init__`` copy into every new analyzer, so every
``FlopAnalyzer`` / ``get_model_complexity_info`` call made afterwards counts
the ops. Nothing is registered at import.

FLOP convention: mmengine/fvcore's, one multiply-add = 1 FLOP. With ``T``
taps (``(2r+1)^2``) per output pixel:

* ``adaptive_conv(input [B, C, H+2r, W+2r], weights [B, T, H, W])``:
  ``B*C*H*W * T`` (one multiply-add per tap and output element);
* ``range_kernel(keys [B, D, H, W], temperature, r)`` -> ``[B, T, H, W]``:
  ``B*T*H*W * D`` (one ``D``-long dot product per tap and pixel; the softmax
  is not counted);
* ``jbu_upsample(source_padded [B, C, H+2r, W+2r], keys [B, D, H, W], ...)``:
  the two above, ``B*C*H*W * T + B*D*H*W * T``;
* ``bicubic_adaptive_conv(source [B, C, h, w], weights [B, T, H, W])``: the
  ``adaptive_conv`` it replaces plus the separable bicubic resize of the padded map
  (4 multiply-adds per axis), ``B*C*H*W * T + 8 * B*C*(H+2r)*(W+2r)``.

The activation handle of each op counts its output elements, as mmengine does
for convolutions (without it ``ActivationAnalyzer``, which
``get_model_complexity_info`` runs too, still reports the ops as unsupported).

The ops are enumerated from one table, :data:`OP_FLOP_HANDLES`, rather than from
``torch.ops.mmfeatup``: registration must not load the compiled extension (it
is loaded lazily, on first use), and every op needs a formula of its own
anyway. The ``*_backward`` ops (:data:`UNTRACED_OPS`) run only inside
autograd's backward, which jit tracing never records, so they have no handle.
"""
from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

#: The signature of an mmengine jit handle: ``(node inputs, node outputs) -> count``.
Handle = Callable[[List[Any], List[Any]], int]

#: The namespace of the compiled ops (``torch.ops.mmfeatup``).
NAMESPACE = 'mmfeatup'


def value_shape(value: Any) -> Optional[List[int]]:
    """The sizes of a traced tensor value.

    Args:
        value (torch._C.Value): an input or output of a jit graph node.

    Returns:
        list[int] | None: its shape (None when the trace did not record a complete
        tensor type, as ``mmengine.analysis.jit_handles.get_shape``).
    """
    from mmengine.analysis.jit_handles import get_shape
    return get_shape(value)


def adaptive_conv_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """FLOPs of ``mmfeatup::adaptive_conv``: output elements x taps.

    Args:
        inputs (list[torch._C.Value]): ``input [B, C, H+2r, W+2r]`` and
            ``weights [B, T, H, W]`` (or the authors' ``[B, H, W, d, d]``).
        outputs (list[torch._C.Value]): the output ``[B, C, H, W]``.

    Returns:
        int: ``B*C*H*W * T``.
    """
    weights = value_shape(inputs[1])
    taps = weights[1] if len(weights) == 4 else weights[3] * weights[4]
    return math.prod(value_shape(outputs[0])) * taps


def range_kernel_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """FLOPs of ``mmfeatup::range_kernel``: one ``D``-long dot product per output element.

    Args:
        inputs (list[torch._C.Value]): ``keys [B, D, H, W]``, ``temperature``, ``radius``.
        outputs (list[torch._C.Value]): the kernel ``[B, T, H, W]``.

    Returns:
        int: ``B*T*H*W * D``.
    """
    return math.prod(value_shape(outputs[0])) * value_shape(inputs[0])[1]


def jbu_upsample_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """FLOPs of ``mmfeatup::jbu_upsample``: its range kernel plus its adaptive convolution.

    The window diameter ``d = 2r + 1`` is read from the shapes (``radius`` is a
    constant of the trace): ``source_padded`` is ``d - 1`` wider than the output.

    Args:
        inputs (list[torch._C.Value]): ``source_padded [B, C, H+2r, W+2r]``,
            ``keys [B, D, H, W]``, ``temperature``, ``sigma``, ``radius``.
        outputs (list[torch._C.Value]): the output ``[B, C, H, W]``.

    Returns:
        int: ``B*C*H*W * T + B*D*H*W * T`` with ``T = d * d``.
    """
    out = value_shape(outputs[0])
    keys = value_shape(inputs[1])
    diameter = value_shape(inputs[0])[-1] - out[-1] + 1
    taps = diameter * diameter
    return math.prod(out) * taps + math.prod(keys) * taps


def bicubic_adaptive_conv_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """FLOPs of ``mmfeatup::bicubic_adaptive_conv``: the adaptive convolution plus the
    bicubic resize (4 multiply-adds per axis) of the map it reads, reflect-padded by ``r``.

    Args:
        inputs (list[torch._C.Value]): ``source [B, C, h, w]`` and ``weights [B, T, H, W]``.
        outputs (list[torch._C.Value]): the output ``[B, C, H, W]``.

    Returns:
        int: ``B*C*H*W * T + 8 * B*C*(H+2r)*(W+2r)``.
    """
    out = value_shape(outputs[0])
    taps = value_shape(inputs[1])[1]
    pad = math.isqrt(taps) - 1  # 2r
    resized = out[0] * out[1] * (out[2] + pad) * (out[3] + pad)
    return math.prod(out) * taps + 8 * resized


def output_activation_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """Activations of an mmfeatup op: the elements of its output (as mmengine counts a conv).

    Args:
        inputs (list[torch._C.Value]): the node's inputs (unused).
        outputs (list[torch._C.Value]): the node's outputs; the first is the op's result.

    Returns:
        int: the number of output elements.
    """
    return math.prod(value_shape(outputs[0]))


#: Op name (without namespace) -> FLOP handle, for every op that jit tracing records.
OP_FLOP_HANDLES: Mapping[str, Handle] = MappingProxyType({
    'adaptive_conv': adaptive_conv_flop_jit,
    'range_kernel': range_kernel_flop_jit,
    'jbu_upsample': jbu_upsample_flop_jit,
    'bicubic_adaptive_conv': bicubic_adaptive_conv_flop_jit,
})

#: Ops of the namespace without a handle: they run only in autograd's backward.
UNTRACED_OPS: Tuple[str, ...] = ('adaptive_conv_backward', 'range_kernel_backward',
                                 'jbu_upsample_backward', 'bicubic_adaptive_conv_backward')


def _spellings(name: str) -> Tuple[str, str]:
    """The node kinds an op may be traced as: ``mmfeatup::NAME`` (what torch records)
    and ``aten::mmfeatup::NAME``."""
    qualified = f'{NAMESPACE}::{name}'
    return qualified, f'aten::{qualified}'


def flop_handle_table() -> Dict[str, Handle]:
    """Every FLOP handle under every node kind it may be traced as.

    Returns:
        dict[str, Callable]: node kind -> handle (2 spellings per op of
        :data:`OP_FLOP_HANDLES`), ready for ``FlopAnalyzer.set_op_handle(**handles)``.
    """
    return {kind: handle for name, handle in OP_FLOP_HANDLES.items()
            for kind in _spellings(name)}


def activation_handle_table() -> Dict[str, Handle]:
    """Activation handles (output elements) of the same ops and spellings.

    Returns:
        dict[str, Callable]: node kind -> handle, for ``ActivationAnalyzer``.
    """
    return {kind: output_activation_jit for name in OP_FLOP_HANDLES for kind in _spellings(name)}


def register_flop_handles() -> None:
    """Add the mmfeatup op handles to mmengine's default FLOP and activation tables.

    Afterwards every ``FlopAnalyzer``, ``ActivationAnalyzer``, ``flop_count`` and
    ``get_model_complexity_info`` created in this process counts the
    ``mmfeatup::`` ops (analyzers created before keep their own copy). Idempotent:
    the handles are module-level functions, so calling it again stores the same
    objects under the same keys. Does not load the compiled extension.
    """
    from mmengine.analysis import complexity_analysis

    complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS.update(flop_handle_table())
    complexity_analysis._DEFAULT_SUPPORTED_ACT_OPS.update(activation_handle_table())
