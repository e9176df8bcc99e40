"""A folder of images (recursive, jpg/png) as RGB ``[0, 1]`` tensors."""
from __future__ import annotations

import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

from mmfeatup.registry import DATASETS

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.JPG', '.JPEG', '.PNG')


def list_images(root: str, extensions: Sequence[str] = IMG_EXTENSIONS) -> List[str]:
    """Sorted paths of all images under ``root`` (recursive)."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'image folder {root!r} does not exist')
    found = []
    for dirpath, _, filenames in os.walk(root, followlinks=True):
        found.extend(osp.join(dirpath, n) for n in filenames if n.endswith(tuple(extensions)))
    return sorted(found)


def load_image01(path: str) -> torch.Tensor:
    """Read an image file as an RGB float tensor ``[3, H, W]`` in ``[0, 1]``."""
    with Image.open(path) as img:
        array = np.asarray(img.convert('RGB'), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255.0


def resize_shorter(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``[3, H, W]`` so that its shorter side is ``size`` (bilinear, antialiased)."""
    height, width = image.shape[-2:]
    scale = size / min(height, width)
    new = (max(size, round(height * scale)), max(size, round(width * scale)))
    if new == (height, width):
        return image
    return F.interpolate(image[None], size=new, mode='bilinear', align_corners=False,
                         antialias=True)[0].clamp(0, 1)


@DATASETS.register_module()
class ImageFolderDataset(Dataset):
    """Every jpg/png under ``data_root`` (recursive), e.g. COCO or ImageNet folders.

    Each item is ``dict(inputs=Tensor[3, crop, crop] in [0, 1], img_path=str)``:
    the shorter side is resized to ``resize`` then a ``crop_size`` crop is taken
    (random when ``random_crop``, else centred), optionally flipped.

    Args:
        data_root (str): the folder.
        resize (int, optional): shorter side after resizing; None keeps the
            size. Default: 224.
        crop_size (int | tuple[int, int], optional): crop ``(h, w)``; None
            keeps the whole (resized) image. Default: 224.
        random_crop (bool): random instead of centre crop. Default: False.
        flip_prob (float): probability of a horizontal flip. Default: 0.
        max_images (int, optional): keep only the first N sorted files.
        extensions (Sequence[str]): accepted file endings.
    """

    def __init__(self,
                 data_root: str,
                 resize: Optional[int] = 224,
                 crop_size: Optional[Union[int, Sequence[int]]] = 224,
                 random_crop: bool = False,
                 flip_prob: float = 0.0,
                 max_images: Optional[int] = None,
                 extensions: Sequence[str] = IMG_EXTENSIONS) -> None:
        super().__init__()
        self.data_root = data_root
        self.paths = list_images(data_root, extensions)
        if max_images is not None:
            self.paths = self.paths[:int(max_images)]
        if not self.paths:
            raise FileNotFoundError(f'no images ({", ".join(extensions)}) under {data_root!r}')
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        self.crop_size = None if crop_size is None else (int(crop_size[0]), int(crop_size[1]))
        self.resize = resize
        self.random_crop = random_crop
        self.flip_prob = float(flip_prob)

    @property
    def metainfo(self) -> Dict[str, Any]:
        return dict(data_root=self.data_root, num_images=len(self.paths))

    def __len__(self) -> int:
        return len(self.paths)

    def _crop(self, image: torch.Tensor) -> torch.Tensor:
        if self.crop_size is None:
            return image
        ch, cw = self.crop_size
        height, width = image.shape[-2:]
        if height < ch or width < cw:
            scale = max(ch / height, cw / width)
            image = F.interpolate(image[None], size=(max(ch, round(height * scale)),
                                                     max(cw, round(width * scale))),
                                  mode='bilinear', align_corners=False)[0]
            height, width = image.shape[-2:]
        if self.random_crop:
            top = int(torch.randint(0, height - ch + 1, ()))
            left = int(torch.randint(0, width - cw + 1, ()))
        else:
            top, left = (height - ch) // 2, (width - cw) // 2
        return image[:, top:top + ch, left:left + cw]

    def __getitem__(self, index: int) -> Dict[str, Any]:
        image = load_image01(self.paths[index])
        if self.resize is not None:
            image = resize_shorter(image, int(self.resize))
        image = self._crop(image)
        if self.flip_prob > 0 and float(torch.rand(())) < self.flip_prob:
            image = torch.flip(image, dims=[2])
        return dict(inputs=image.contiguous(), img_path=self.paths[index])
