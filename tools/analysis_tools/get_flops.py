"""Get the FLOPs and parameters of a segmentor (MMSegmentation's ``get_flops.py`` on this stack).

    python tools/analysis_tools/get_flops.py CONFIG [--shape H [W]] [--cfg-options k=v ...]

Same command line and output as mmsegmentation's
``tools/analysis_tools/get_flops.py``: the segmentor of ``CONFIG`` (auxiliary
head removed, SyncBN reverted, eval mode) runs on one random image of
``--shape`` (default 2048x1024) after its data preprocessor, and mmengine's
:func:`~mmengine.analysis.get_model_complexity_info` counts it (one
multiply-add = 1 FLOP). The mmfeatup ops (``mmfeatup::adaptive_conv``,
``range_kernel``, ``jbu_upsample``) are counted through
:func:`mmfeatup.compat.install` (which runs
:func:`mmfeatup.analysis.register_flop_handles`); ops mmengine has no handle
for are still logged as "Unsupported operator ..." and not counted.

Why not mmseg's own script: with the stack this project pins
(mmsegmentation 1.2.2, mmengine 0.10.7, mmcv-lite 2.1.0) the copy shipped as
``mmseg/.mim/tools/analysis_tools/get_flops.py`` cannot run, for two reasons:

1. Its first lines import ``mmseg.models`` (``from mmseg.models import
   BaseSegmentor``), before the config and its ``custom_imports`` are read.
   ``mmseg.models`` imports ``mmcv.ops`` unguarded, and mmcv-lite ships no
   compiled extension, so it stops with ``ModuleNotFoundError: No module named
   'mmcv._ext'`` (mmfeatup's stand-in extension,
   :func:`mmfeatup.compat.ensure_mmcv_ops_importable`, is installed by
   :func:`mmfeatup.compat.install` when ``mmfeatup.models`` is imported, which
   the config's ``custom_imports`` would do too late). This tool installs the
   shims first.
2. Even with that stand-in installed beforehand, it calls
   ``get_model_complexity_info(model, input_shape, inputs=data['inputs'], ...)``
   and mmengine 0.10.7 refuses both at once: ``ValueError: "input_shape" and
   "inputs" cannot be both set.`` This tool passes ``inputs`` only.

(``mmseg::`` config bases need ``pkg_resources``, i.e. ``setuptools<81``, for
both scripts.) Other differences: the scope comes from the config's
``default_scope`` (mmseg's script reads ``scope``, which configs do not set), and the
reported input shape is the one actually analysed (after the data
preprocessor's padding, if any; mmseg's script always reports ``--shape``).
"""
from __future__ import annotations

import argparse
from typing import Any, Dict, Optional, Sequence, Tuple

SPLIT_LINE = '=' * 30


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line of mmseg's ``get_flops.py``.

    Args:
        argv (Sequence[str], optional): arguments (default: ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: ``config``, ``shape`` and ``cfg_options``.
    """
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description='Get the FLOPs of a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--shape', type=int, nargs='+', default=[2048, 1024],
                        help='input image size')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair in xxx=yyy format '
        'will be merged into config file. If the value to be overwritten is a list, it should '
        'be like key="[a,b]" or key=a,b It also allows nested list/tuple values, e.g. '
        'key="[(a,b),(c,d)]" Note that the quotation marks are necessary and that no white '
        'space is allowed.')
    return parser.parse_args(argv)


def input_shape(shape: Sequence[int]) -> Tuple[int, int, int]:
    """``--shape`` as a ``(3, H, W)`` image shape.

    Args:
        shape (Sequence[int]): ``[S]`` (square) or ``[H, W]``.

    Returns:
        tuple[int, int, int]: ``(3, H, W)``.
    """
    if len(shape) == 1:
        return 3, int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return 3, int(shape[0]), int(shape[1])
    raise ValueError(f'invalid input shape {list(shape)}: give S or H W')


def inference(config: str, shape: Sequence[int],
              cfg_options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Count the FLOPs and parameters of the segmentor of ``config`` on one image.

    Args:
        config (str): config file path.
        shape (Sequence[int]): ``--shape``: ``[S]`` or ``[H, W]``.
        cfg_options (dict, optional): ``--cfg-options`` overrides.

    Returns:
        dict: ``ori_shape`` (``(H, W)`` asked), ``pad_shape`` (analysed),
        ``flops`` / ``params`` (formatted, e.g. ``'1.2G'``), ``flops_count`` /
        ``params_count`` (numbers) and ``compute_type``.
    """
    from mmfeatup.compat import install
    install()  # before the config's custom_imports may import mmseg.models (mmcv.ops)

    import torch
    from mmengine.analysis.print_helper import _format_size

    from mmfeatup.benchmark.segmentor import build_segmentor, count_segmentor_flops
    from mmfeatup.engine import load_config

    image_shape = input_shape(shape)
    cfg = load_config(config, cfg_options)
    if cfg.model.get('decode_head', {}).get('type') in ('MaskFormerHead', 'Mask2FormerHead'):
        raise NotImplementedError('MaskFormer and Mask2Former are not supported yet.')
    model = build_segmentor(cfg)
    if torch.cuda.is_available():
        model.cuda()
    flops, params, pad_shape = count_segmentor_flops(model, image_shape)
    return dict(ori_shape=image_shape[-2:], pad_shape=pad_shape,
                flops=_format_size(flops), params=_format_size(params),
                flops_count=flops, params_count=params,
                compute_type='direct: randomly generate a picture')


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the tool and print mmseg's report.

    Args:
        argv (Sequence[str], optional): arguments (default: ``sys.argv[1:]``).

    Returns:
        dict: what :func:`inference` returns.
    """
    args = parse_args(argv)
    result = inference(args.config, args.shape, args.cfg_options)
    if result['pad_shape'] != result['ori_shape']:
        print(f'{SPLIT_LINE}\nUse size divisor set input shape '
              f'from {result["ori_shape"]} to {result["pad_shape"]}')
    print(f'{SPLIT_LINE}\nCompute type: {result["compute_type"]}\n'
          f'Input shape: {result["pad_shape"]}\nFlops: {result["flops"]}\n'
          f'Params: {result["params"]}\n{SPLIT_LINE}')
    print('!!!Please be cautious if you use the results in papers. '
          'You may need to check if all ops are supported and verify '
          'that the flops computation is correct.')
    return result


if __name__ == '__main__':
    main()
