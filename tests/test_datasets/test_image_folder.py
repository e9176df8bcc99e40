import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

import mmfeatup.datasets  # noqa: F401
from mmfeatup.datasets import ImageFolderDataset, list_images
from mmfeatup.registry import DATASETS


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / 'a' / 'b').mkdir(parents=True)
    Image.fromarray(data.chelsea()).save(tmp_path / 'a' / 'cat.png')  # 300x451
    Image.fromarray(data.coffee()).save(tmp_path / 'a' / 'b' / 'coffee.jpg')  # 400x600
    Image.fromarray(data.camera()[:50, :40]).save(tmp_path / 'small_gray.png')  # 50x40 grey
    (tmp_path / 'notes.txt').write_text('not an image')
    return tmp_path


def test_recursive_listing_ignores_other_files(folder):
    names = sorted(p.split('/')[-1] for p in list_images(str(folder)))
    assert names == ['cat.png', 'coffee.jpg', 'small_gray.png']


def test_items_are_rgb01_crops(folder):
    ds = DATASETS.build(dict(type='ImageFolderDataset', data_root=str(folder), resize=64,
                             crop_size=(48, 56)))
    assert len(ds) == 3
    for i in range(3):
        item = ds[i]
        image = item['inputs']
        assert image.shape == (3, 48, 56) and image.dtype == torch.float32
        assert 0 <= image.min() and image.max() <= 1
    grey = ds[[p.endswith('small_gray.png') for p in ds.paths].index(True)]['inputs']
    assert torch.allclose(grey[0], grey[1]) and torch.allclose(grey[1], grey[2])


def test_centre_crop_is_deterministic_and_random_crop_varies(folder):
    centre = ImageFolderDataset(str(folder), resize=None, crop_size=32, random_crop=False)
    assert torch.equal(centre[0]['inputs'], centre[0]['inputs'])
    rand = ImageFolderDataset(str(folder), resize=None, crop_size=32, random_crop=True)
    torch.manual_seed(0)
    crops = [rand[1]['inputs'] for _ in range(4)]
    assert any(not torch.equal(crops[0], c) for c in crops[1:])


def test_full_image_without_resize_or_crop(folder):
    ds = ImageFolderDataset(str(folder), resize=None, crop_size=None)
    image = ds[[p.endswith('cat.png') for p in ds.paths].index(True)]['inputs']
    expected = torch.from_numpy(np.asarray(data.chelsea())).permute(2, 0, 1).float() / 255
    assert torch.allclose(image, expected)


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        ImageFolderDataset(str(tmp_path / 'nope'))
    with pytest.raises(FileNotFoundError, match='no images'):
        ImageFolderDataset(str(tmp_path))
