"""Decoding, downscaling, fingerprinting and encoding the photos (deterministic)."""
from __future__ import annotations

import hashlib
import io
from typing import Tuple

import numpy as np
from PIL import Image


def _rgb(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = array.astype(np.float64)
        lo, hi = float(array.min()), float(array.max())
        if hi <= 1.0 and lo >= 0.0:
            array = array * 255.0
        elif hi > 255.0 or lo < 0.0:
            array = (array - lo) / max(hi - lo, 1e-12) * 255.0
        array = np.clip(np.round(array), 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.shape[-1] == 4:
        array = array[..., :3]
    return np.ascontiguousarray(array)


def load_image(path: str) -> np.ndarray:
    """RGB uint8 array of an image file or of the first array in an ``.npz``."""
    if path.endswith('.npz'):
        with np.load(path) as data:
            return _rgb(data[sorted(data.files)[0]])
    with Image.open(path) as im:
        return _rgb(np.asarray(im.convert('RGB')))


def downscale(array: np.ndarray, max_side: int) -> np.ndarray:
    """Shorter side to ``max_side`` (Lanczos), never upscaled."""
    h, w = array.shape[:2]
    short = min(h, w)
    if short <= max_side:
        return array
    scale = max_side / short
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(array).resize(size, Image.LANCZOS))


def fingerprint(array: np.ndarray) -> Tuple[str, np.ndarray]:
    """(sha256 of a 64x64 grey thumbnail, 256-bit difference hash) of an RGB image."""
    grey = Image.fromarray(array).convert('L')
    thumb = np.asarray(grey.resize((64, 64), Image.BILINEAR))
    small = np.asarray(grey.resize((17, 16), Image.BILINEAR), dtype=np.int16)
    return hashlib.sha256(thumb.tobytes()).hexdigest(), (small[:, 1:] > small[:, :-1]).ravel()


def is_duplicate(a: Tuple[str, np.ndarray], b: Tuple[str, np.ndarray],
                 max_hamming: int = 16) -> bool:
    return a[0] == b[0] or int(np.count_nonzero(a[1] != b[1])) <= max_hamming


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format='PNG', optimize=False, compress_level=9)
    return buf.getvalue()
