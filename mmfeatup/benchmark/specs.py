"""What the upsampler benchmark measures: sizes, upsampler configs, ``--variant`` rows, names."""
from __future__ import annotations

import argparse
import ast
import os.path as osp
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from torch import nn

import mmfeatup.models  # noqa: F401  (registers every upsampler)
from mmfeatup.models.upsamplers.base import exact_integer_ratio
from mmfeatup.registry import UPSAMPLERS, build_upsampler

Size = Tuple[int, int]
#: The repository root (tools, configs and data of the benchmark's defaults).
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Default upsamplers of the (expensive) segmentation comparison.
DEFAULT_SEG = ('Bilinear', 'JBUStack')
#: Quality runs start with these (the issue's targets), so a run cut short still has them.
PRIORITY = ('Bilinear', 'JBUStack')


def parse_size(text: str) -> Tuple[Size, Size]:
    """``'14x14:224x224'`` -> ``((14, 14), (224, 224))``.

    Args:
        text (str): ``SOURCExSOURCE:OUTPUTxOUTPUT`` (height x width each).

    Returns:
        tuple: ``(source, output)`` sizes.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not of that form.
    """
    try:
        src, dst = text.lower().split(':')
        source = tuple(int(v) for v in src.split('x'))
        output = tuple(int(v) for v in dst.split('x'))
        assert len(source) == 2 and len(output) == 2 and min(source + output) > 0
    except (ValueError, AssertionError):
        raise argparse.ArgumentTypeError(
            f'--sizes entries look like 14x14:224x224 (source:output), got {text!r}') from None
    return source, output  # type: ignore[return-value]


def parse_variant(tokens: Sequence[str]) -> Tuple[str, Dict[str, Any]]:
    """``LABEL TYPE [key=value ...]`` (one ``--variant``) -> ``(LABEL, dict(type=TYPE, ...))``.

    Values are Python literals where they parse as one (``radius=2``), else strings
    (``checkpoint=work_dirs/x/upsampler.pth``).

    Args:
        tokens (Sequence[str]): the words of one ``--variant``.

    Returns:
        tuple: the label and the upsampler config.

    Raises:
        ValueError: too few words, an unregistered type or a malformed option.
    """
    if len(tokens) < 2:
        raise ValueError(f'--variant needs LABEL TYPE [key=value ...], got {list(tokens)}')
    label, kind, *options = tokens
    if kind not in UPSAMPLERS.module_dict:
        raise ValueError(f'--variant {label}: {kind!r} is not a registered upsampler')
    spec: Dict[str, Any] = dict(type=kind)
    for option in options:
        key, sep, text = option.partition('=')
        if not sep or not key.isidentifier() or key == 'type':
            raise ValueError(f'--variant {label}: expected key=value, got {option!r}')
        try:
            spec[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            spec[key] = text
    return label, spec


def spec_of(name: str, variants: Optional[Dict[str, Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The upsampler config of a table row.

    Args:
        name (str): a ``--variant`` label or a registered name.
        variants (dict, optional): the ``--variant`` configs by label.

    Returns:
        dict: a copy of the variant's config, else ``dict(type=name)``.
    """
    return dict((variants or {}).get(name) or dict(type=name))


def for_seed(cfg: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """``cfg`` with ``{seed}`` in its top-level string values replaced by ``seed`` (nested
    dicts are not searched).

    A ``--variant`` row can so name one file per seed (e.g.
    ``checkpoint=work_dirs/featup_s16_seed{seed}/upsampler.pth``): with ``--seeds 0 1 2`` and
    ``--iters 0``, each seed's row scores that seed's trained upsampler.

    Args:
        cfg (dict): an upsampler config.
        seed (int): the run's seed.

    Returns:
        dict: a copy (``cfg`` itself is not changed).
    """
    return {key: value.replace('{seed}', str(seed)) if isinstance(value, str) else value
            for key, value in cfg.items()}


def upsampler_cfg(name: Union[str, Dict[str, Any]], source: Size, output: Size) -> Dict[str, Any]:
    """Config of ``name`` for ``source -> output``, with its ``scale_factor``.

    Args:
        name (str | dict): a registered name or an upsampler config.
        source (tuple[int, int]): the feature grid.
        output (tuple[int, int]): the output size.

    Returns:
        dict: the config; ``scale_factor`` is the exact integer ratio, else (modules
        that are not fixed-ratio) the nearest design ratio.

    Raises:
        ValueError: a fixed-ratio module and no integer ratio between the sizes.
    """
    ratio = exact_integer_ratio(source, output)
    cfg: Dict[str, Any] = dict(type=name) if isinstance(name, str) else dict(name)
    if ratio is not None:
        cfg['scale_factor'] = ratio
    elif UPSAMPLERS.get(cfg['type']).fixed_ratio:
        raise ValueError(f'{cfg["type"]} needs one integer ratio; {source} -> {output} has none')
    else:  # a design ratio close to the request (DySample, JBU...)
        cfg['scale_factor'] = max(1, round(output[0] / source[0]))
    return cfg


def count_parameters(module: nn.Module) -> int:
    """The number of parameter elements of ``module``."""
    return sum(p.numel() for p in module.parameters())


def row_config(name: str, variants: Optional[Dict[str, Dict[str, Any]]], side: int,
               stride: int, seed: int) -> Tuple[Dict[str, Any], bool]:
    """A quality row's upsampler config for ``side x side`` images and whether it trains.

    Args:
        name (str): a registered name or a ``--variant`` label.
        variants (dict, optional): the ``--variant`` configs by label.
        side (int): the image side (features: ``side // stride``).
        stride (int): the featurizer's stride.
        seed (int): the seed of the trial build (``{seed}`` in a variant).

    Returns:
        tuple: the config (``{seed}`` not yet filled in) and whether it has parameters.

    Raises:
        Exception: whatever building it raises (the row then reports it).
    """
    grid = side // stride
    cfg = upsampler_cfg(spec_of(name, variants), (grid, grid), (side, side))
    return cfg, count_parameters(build_upsampler(for_seed(cfg, seed), in_channels=8)) > 0


def select_names(only: Optional[Sequence[str]], skip: Iterable[str],
                 variants: Optional[Dict[str, Dict[str, Any]]] = None) -> List[str]:
    """The rows of a run: ``--only`` (else every registered upsampler), the variants,
    less ``--skip``.

    Args:
        only (Sequence[str], optional): the requested upsamplers; None for all.
        skip (Iterable[str]): upsamplers left out.
        variants (dict, optional): the ``--variant`` configs by label (always included).

    Returns:
        list[str]: the names, in order.

    Raises:
        SystemExit: a variant label is a registered name, or a name is unknown.
    """
    clash = sorted(set(variants or {}) & set(UPSAMPLERS.module_dict))
    if clash:
        raise SystemExit(f'--variant labels {clash} are registered names; choose other labels')
    known = sorted(UPSAMPLERS.module_dict) + list(variants or {})
    names = list(only) + [v for v in variants or {} if v not in only] if only else known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f'unknown upsampler(s) {unknown}; registered: {", ".join(known)}')
    return [n for n in names if n not in set(skip)]


def priority_order(names: Sequence[str]) -> List[str]:
    """``names`` with :data:`PRIORITY` first, then alphabetical (quality runs' order).

    Args:
        names (Sequence[str]): the rows.

    Returns:
        list[str]: the issue's targets first, so that a run cut short still has them.
    """
    return sorted(names, key=lambda n: (PRIORITY.index(n) if n in PRIORITY else len(PRIORITY), n))
