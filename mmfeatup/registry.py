"""Registries of mmfeatup.

Importing this module installs the stack shims (:func:`mmfeatup.compat.install`),
once, before anything of mmseg is imported.

Segmentation parts (the neck, the segmentor, datasets, transforms, hooks) are
registered straight into MMSegmentation's registries so that stock ``mmseg``
configs (``default_scope='mmseg'``) find them once ``mmfeatup.models`` is
imported (``custom_imports``).

Feature upsamplers have one registry of their own, :data:`UPSAMPLERS`, a child
of MMSegmentation's ``MODELS`` (scope ``mmfeatup``): the benchmark enumerates it,
the neck builds from it with :func:`build_upsampler`, and
``MODELS.build(dict(type='mmfeatup.JBUStack', ...))`` works too.
"""
from __future__ import annotations

from typing import Any, Dict, Union

from mmfeatup import compat

compat.install()  # the one install point of the stack shims (see mmfeatup.compat)

from mmengine.registry import Registry  # noqa: E402
from mmseg.registry import (DATASETS, HOOKS, METRICS, MODELS, OPTIM_WRAPPERS,  # noqa: E402
                            TRANSFORMS)
from torch import nn  # noqa: E402

UPSAMPLERS = Registry(
    'feature upsampler',
    parent=MODELS,
    scope='mmfeatup',
    locations=['mmfeatup.models.upsamplers'])


def build_upsampler(cfg: Union[Dict[str, Any], nn.Module], **defaults: Any) -> nn.Module:
    """Build a feature upsampler: :meth:`UPSAMPLERS.build` with ``defaults`` as default args.

    Args:
        cfg (dict | nn.Module): ``dict(type=NAME, **kwargs)`` with NAME a key of
            :data:`UPSAMPLERS`; a module is returned unchanged.
        **defaults: keyword arguments used where ``cfg`` does not set them
            (the neck passes ``in_channels`` and ``guidance_channels``).

    Returns:
        nn.Module: the upsampler.
    """
    if isinstance(cfg, nn.Module):
        return cfg
    if isinstance(cfg, dict) and '_scope_' not in cfg:
        # build in this registry whatever the caller's default scope (mmseg's, in a runner):
        # mmengine would otherwise switch to the default scope's root and miss our names
        cfg = {**cfg, '_scope_': UPSAMPLERS.scope}
    return UPSAMPLERS.build(cfg, default_args=defaults or None)


__all__ = ['MODELS', 'DATASETS', 'TRANSFORMS', 'HOOKS', 'METRICS', 'OPTIM_WRAPPERS', 'UPSAMPLERS',
           'build_upsampler']
