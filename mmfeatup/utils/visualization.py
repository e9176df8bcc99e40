"""Feature maps as RGB: one PCA shared by several maps, and side-by-side figures.

A single PCA is fitted on the pixels of all given maps together (e.g. the
low-resolution features and their upsampled version) and the same colour
scaling is applied to every map, so equal colours mean equal features across
panels.
"""
from __future__ import annotations

import os
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor


class JointPCA(NamedTuple):
    """A fitted PCA: ``project(x) = (x - mean) @ components``."""

    mean: Tensor  #: ``[C]``
    components: Tensor  #: ``[C, k]``, unit columns, by decreasing variance


def _as_bchw(features: Tensor, name: str) -> Tensor:
    if features.dim() == 3:
        features = features.unsqueeze(0)
    if features.dim() != 4:
        raise ValueError(f'{name} must be [C, H, W] or [B, C, H, W], got {tuple(features.shape)}')
    return features


def _pixels(features: Tensor) -> Tensor:
    """``[B, C, H, W]`` -> ``[B*H*W, C]`` (a view where possible), detached, on CPU."""
    return features.detach().cpu().permute(0, 2, 3, 1).reshape(-1, features.shape[1])


def _sample_pixels(maps: Sequence[Tensor], max_samples: int, seed: int) -> Tensor:
    """At most ``max_samples`` pixels ``[N, C]`` (float64), each map sampled in
    proportion to its pixel count, with a private generator."""
    counts = [m.shape[0] * m.shape[2] * m.shape[3] for m in maps]
    total = sum(counts)
    generator = torch.Generator().manual_seed(seed)
    chunks = []
    for m, count in zip(maps, counts):
        pixels = _pixels(m)
        if total > max_samples:
            keep = max(1, (count * max_samples) // total)
            pixels = pixels[torch.randperm(count, generator=generator)[:keep]]
        chunks.append(pixels.double())
    return torch.cat(chunks)


def fit_joint_pca(features: Sequence[Tensor],
                  n_components: int = 3,
                  max_samples: int = 100_000,
                  seed: int = 0) -> JointPCA:
    """Fit one PCA on the pixels of all ``features`` together.

    Args:
        features (Sequence[Tensor]): maps ``[B, C, H, W]`` (or ``[C, H, W]``)
            with the same ``C``, any sizes.
        n_components (int): number of components ``k``. Default: 3.
        max_samples (int): at most this many pixels (drawn uniformly with a
            private generator, no global RNG use) enter the fit. Default: 100000.
        seed (int): seed of that generator. Default: 0.

    Returns:
        JointPCA: mean and components; each component's sign is fixed so that
        its largest-magnitude entry is positive (deterministic colours).
    """
    if not features:
        raise ValueError('features must hold at least one feature map')
    maps = [_as_bchw(f, f'features[{i}]') for i, f in enumerate(features)]
    channels = {m.shape[1] for m in maps}
    if len(channels) != 1:
        raise ValueError(f'features must share one channel count, got {sorted(channels)}')
    num_channels = channels.pop()
    if not 1 <= n_components <= num_channels:
        raise ValueError(f'n_components must be in [1, {num_channels}], got {n_components}')
    pixels = _sample_pixels(maps, max_samples, seed)
    mean = pixels.mean(0)
    centered = pixels - mean
    covariance = centered.T @ centered / max(pixels.shape[0] - 1, 1)
    _, vectors = torch.linalg.eigh(covariance)  # ascending eigenvalues
    components = vectors[:, -n_components:].flip(1)
    signs = torch.sign(components.gather(0, components.abs().argmax(0, keepdim=True)))
    components = components * torch.where(signs == 0, torch.ones_like(signs), signs)
    return JointPCA(mean, components)


def pca_to_rgb(features: Sequence[Tensor],
               pca: Optional[JointPCA] = None,
               quantile: float = 0.01,
               max_samples: int = 100_000) -> Tuple[list, JointPCA]:
    """Map feature maps to RGB in [0, 1] with one shared PCA and one shared scaling.

    Args:
        features (Sequence[Tensor]): maps ``[B, C, H, W]`` (or ``[C, H, W]``).
        pca (JointPCA, optional): a fitted PCA with 3 components; fitted jointly
            on ``features`` when None.
        quantile (float): each channel is scaled so that its ``quantile`` and
            ``1 - quantile`` values (over all maps together) become 0 and 1,
            then clipped. Default: 0.01.
        max_samples (int): pixel budget of the fit and of the quantiles.

    Returns:
        tuple[list[Tensor], JointPCA]: ``[B, 3, H, W]`` float images in [0, 1]
        (float32, on CPU), one per input, and the PCA used.
    """
    if not 0 <= quantile < 0.5:
        raise ValueError(f'quantile must be in [0, 0.5), got {quantile}')
    maps = [_as_bchw(f, f'features[{i}]') for i, f in enumerate(features)]
    if pca is None:
        pca = fit_joint_pca(maps, 3, max_samples)
    if pca.components.shape[1] != 3:
        raise ValueError(f'pca must have 3 components for RGB, got {pca.components.shape[1]}')
    mean, components = pca.mean.float(), pca.components.float()
    projected = [(_pixels(m).float() - mean) @ components for m in maps]
    pooled = torch.cat(projected)
    if pooled.shape[0] > max_samples:
        step = -(-pooled.shape[0] // max_samples)
        pooled = pooled[::step]
    low = torch.quantile(pooled, quantile, dim=0)
    high = torch.quantile(pooled, 1 - quantile, dim=0)
    scale = (high - low).clamp_min(1e-12)
    images = []
    for m, proj in zip(maps, projected):
        rgb = ((proj - low) / scale).clamp(0, 1)
        batch, _, height, width = m.shape
        images.append(rgb.reshape(batch, height, width, 3).permute(0, 3, 1, 2).float())
    return images, pca


ImageLike = Union[Tensor, np.ndarray]


def _to_hwc(image: ImageLike, name: str) -> np.ndarray:
    """``[3, H, W]`` / ``[1, 3, H, W]`` tensor or ``[H, W, 3]`` array -> ``[H, W, 3]`` in [0, 1]."""
    if isinstance(image, Tensor):
        image = image.detach().cpu().float()
        if image.dim() == 4:
            if image.shape[0] != 1:
                raise ValueError(f'{name}: give one image, got batch {image.shape[0]}')
            image = image[0]
        if image.dim() != 3 or image.shape[0] not in (1, 3):
            raise ValueError(f'{name} must be [3, H, W], got {tuple(image.shape)}')
        image = image.permute(1, 2, 0).numpy()
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f'{name} must be [H, W, 3], got {image.shape}')
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    return np.clip(image, 0.0, 1.0)


def _gradient_magnitude(maps: Tensor) -> Tensor:
    """``[H-1, W-1]`` norm over channels of the forward differences of ``[1, C, H, W]``."""
    dx = maps[..., :-1, 1:] - maps[..., :-1, :-1]
    dy = maps[..., 1:, :-1] - maps[..., :-1, :-1]
    return (dx.pow(2) + dy.pow(2)).sum(1)[0].sqrt()


def gradient_map(features: Tensor, quantile: float = 0.99) -> Tensor:
    """Where a map changes: the channel norm of its forward differences as a grey image.

    Scaled by its own ``quantile`` (brighter values clipped to 1), so a panel shows where
    the map changes, not how much compared with another map; the last row and column
    repeat their neighbours to keep the map's size.

    Args:
        features (Tensor): ``[C, H, W]`` or ``[1, C, H, W]``, ``H, W >= 2``.
        quantile (float): the value shown as white, in (0, 1]. Default: 0.99.

    Returns:
        Tensor: ``[3, H, W]`` in [0, 1].

    Raises:
        ValueError: a batch of more than one, a side under 2, or a quantile out of range.
    """
    features = _as_bchw(features, 'features').detach().cpu().double()
    if features.shape[0] != 1:
        raise ValueError(f'gradient_map: one feature map, got batch {features.shape[0]}')
    if min(features.shape[-2:]) < 2:
        raise ValueError(f'gradient_map: needs H, W >= 2, got {tuple(features.shape[-2:])}')
    if not 0 < quantile <= 1:
        raise ValueError(f'gradient_map: quantile must be in (0, 1], got {quantile}')
    magnitude = torch.nn.functional.pad(_gradient_magnitude(features)[None, None], (0, 1, 0, 1),
                                        mode='replicate')[0]
    scale = torch.quantile(magnitude.flatten(), quantile)
    grey = (magnitude / scale).clamp(max=1) if scale > 0 else torch.zeros_like(magnitude)
    return grey.expand(3, -1, -1).float()


def edge_alignment(image: Tensor, features: Tensor) -> float:
    """How much a feature map's edges follow the image's: the Pearson correlation, over
    pixels, of the two gradient magnitudes (channel norms of the forward differences).

    Interpolated features change slowly everywhere (low); features whose changes sit on the
    image's edges score high. A descriptive measure for figures, not a training target.

    Args:
        image (Tensor): ``[3, H, W]`` or ``[1, 3, H, W]``.
        features (Tensor): ``[C, H, W]`` or ``[1, C, H, W]``, the image's size.

    Returns:
        float: the correlation, in [-1, 1].

    Raises:
        ValueError: another size, a side under 3, a batch of more than one, or a constant map.
    """
    image, features = _as_bchw(image, 'image'), _as_bchw(features, 'features')
    if image.shape[0] != 1 or features.shape[0] != 1:
        raise ValueError('edge_alignment: one image and one feature map')
    if image.shape[-2:] != features.shape[-2:]:
        raise ValueError(f'edge_alignment: features {tuple(features.shape[-2:])} must have the '
                         f'image size {tuple(image.shape[-2:])}')
    if min(image.shape[-2:]) < 3:
        raise ValueError(f'edge_alignment: needs H, W >= 3, got {tuple(image.shape[-2:])}')
    pair = torch.stack([_gradient_magnitude(image.double()).flatten(),
                        _gradient_magnitude(features.double()).flatten()])
    if bool((pair.std(1) == 0).any()):
        raise ValueError('edge_alignment: a constant map has no edges to compare')
    return float(torch.corrcoef(pair)[0, 1])


def save_feature_figure(panels: Sequence[Optional[Tuple[str, ImageLike]]],
                        path: str,
                        title: Optional[str] = None,
                        panel_inches: float = 4.0,
                        dpi: int = 100,
                        columns: Optional[int] = None) -> str:
    """Save images in one PNG, side by side (or in rows of ``columns``), each with its caption.

    Panels are drawn without smoothing (nearest), so low-resolution feature
    maps show their true grid.

    Args:
        panels (Sequence[tuple[str, Tensor | ndarray] | None]): ``(caption, image)``;
            an image is ``[3, H, W]``/``[1, 3, H, W]`` (tensor) or ``[H, W, 3]``
            (array), values in [0, 1] (uint8 arrays are scaled); None leaves a blank slot.
        path (str): output file; parent folders are created.
        title (str, optional): figure title.
        panel_inches (float): width of one panel in inches. Default: 4.
        dpi (int): resolution. Default: 100.
        columns (int, optional): panels per row (row-major); None: one row.

    Returns:
        str: ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not panels:
        raise ValueError('panels must not be empty')
    if all(panel is None for panel in panels):
        raise ValueError('panels: every panel is None, nothing to draw')
    columns = len(panels) if columns is None else int(columns)
    if columns < 1:
        raise ValueError(f'columns must be >= 1, got {columns}')
    images = [None if panel is None else (panel[0], _to_hwc(panel[1], f'panels[{i}]'))
              for i, panel in enumerate(panels)]
    rows = -(-len(images) // columns)
    aspect = max(img.shape[0] / img.shape[1] for _, img in filter(None, images))
    extra = 0.6 if title else 0.3
    figure = Figure(figsize=(panel_inches * columns, (panel_inches * aspect + 0.3) * rows
                             + extra - 0.3), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False).flatten()
    for axis in axes:
        axis.axis('off')
    for axis, panel in zip(axes, images):
        if panel is not None:
            axis.imshow(panel[1], interpolation='nearest')
            axis.set_title(panel[0], fontsize=10)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    figure.savefig(path)
    return path
