"""Broken segmentation data fails early with the path and the fix (CheckedADE20KDataset,
CheckSegMap); valid data loads exactly as with mmseg's ADE20KDataset."""
import copy
import os
import os.path as osp
import random
import zlib

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import mmfeatup.datasets  # noqa: F401  (registers the types)
from mmfeatup.datasets import CheckedADE20KDataset, CheckedBaseSegDataset, CheckSegMap
from mmfeatup.registry import DATASETS

init_default_scope('mmseg')

PREFIX = dict(img_path='images/training', seg_map_path='annotations/training')
CHECK = dict(type='CheckSegMap', num_classes=150, ignore_index=255)


def write_sample(root, name, label, image_size=None, split='training', img_ext='.jpg'):
    """An image (random colours) and its label map under the ADE20K layout."""
    height, width = image_size or (label.shape if label is not None else (8, 8))
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    img_dir, ann_dir = osp.join(root, 'images', split), osp.join(root, 'annotations', split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    cv2.imwrite(osp.join(img_dir, name + img_ext), image)
    if label is not None:
        cv2.imwrite(osp.join(ann_dir, name + '.png'), label.astype(np.uint8))
    return osp.join(img_dir, name + img_ext), osp.join(ann_dir, name + '.png')


def valid_label(seed, size=8):
    """ADE20K png values: 0 (ignored) and 1..150 (class index + 1)."""
    return np.random.default_rng(seed).integers(0, 151, (size, size), dtype=np.uint8)


def make_dataset(root, num=3):
    return [write_sample(str(root), f'sample_{i}', valid_label(i)) for i in range(num)]


def build(root, pipeline=(), type='CheckedADE20KDataset', **kwargs):
    return DATASETS.build(dict(type=type, data_root=str(root), data_prefix=dict(PREFIX),
                               pipeline=list(pipeline), **kwargs))


def build_error(root, **kwargs):
    """The message of the FileNotFoundError that building the dataset raises."""
    with pytest.raises(FileNotFoundError) as info:
        build(root, **kwargs)
    return str(info.value)


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------
# valid data: same samples, same pipeline output
# ----------------------------------------------------------------------------------------------

def test_valid_dataset_loads_like_ade20k_and_samples_pass_unchanged(tmp_path):
    make_dataset(tmp_path, 4)
    plain = build(tmp_path, type='ADE20KDataset')
    checked = build(tmp_path)
    assert isinstance(checked, CheckedADE20KDataset)
    assert len(checked) == len(plain) == 4
    assert [checked.get_data_info(i) for i in range(4)] == [plain.get_data_info(i)
                                                            for i in range(4)]
    # the demo's random training pipeline, with and without the check: identical samples
    train = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
             dict(type='RandomResize', scale=(16, 16), ratio_range=(0.8, 1.5), keep_ratio=True),
             dict(type='RandomCrop', crop_size=(8, 8), cat_max_ratio=0.75),
             dict(type='RandomFlip', prob=0.5), dict(type='PhotoMetricDistortion'),
             dict(type='PackSegInputs')]
    with_check = build(tmp_path, train[:2] + [CHECK] + train[2:])
    without = build(tmp_path, train, type='ADE20KDataset')
    for index in range(len(with_check)):
        seed_all(index)
        a = with_check[index]
        seed_all(index)
        b = without[index]
        assert torch.equal(a['inputs'], b['inputs'])
        assert torch.equal(a['data_samples'].gt_sem_seg.data, b['data_samples'].gt_sem_seg.data)
        assert a['data_samples'].metainfo.keys() == b['data_samples'].metainfo.keys()
        # ... and the RNG advanced by the same amount (nothing drawn by the check)
        seed_all(index)
        with_check[index]
        after_check = np.random.random()
        seed_all(index)
        without[index]
        assert np.random.random() == after_check


def test_check_returns_the_results_dict_untouched(tmp_path):
    make_dataset(tmp_path, 1)
    results = build(tmp_path, [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])[0]
    before = copy.deepcopy(results)
    out = CheckSegMap(num_classes=150)(results)
    assert out is results
    assert out.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(out[key], value)
        else:
            assert out[key] == value


def test_ignored_and_top_class_values_pass(tmp_path):
    label = np.zeros((8, 8), np.uint8)  # file 0 -> ignore 255
    label[0, :4] = 150  # the last ADE class (149)
    label[1, :4] = 255  # also ignored with reduce_zero_label
    write_sample(str(tmp_path), 'edge', label)
    item = build(tmp_path, [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                            CHECK, dict(type='PackSegInputs')])[0]
    assert set(np.unique(item['data_samples'].gt_sem_seg.data).tolist()) == {149, 255}


# ----------------------------------------------------------------------------------------------
# folders: missing, empty
# ----------------------------------------------------------------------------------------------

def test_missing_data_root(tmp_path):
    root = tmp_path / 'no_such_root'
    message = build_error(root)
    assert str(root) in message and 'does not exist' in message
    assert 'train_dataloader.dataset.data_root=' in message
    assert 'tools/dataset_converters/make_demo_dataset.py' in message


def test_missing_image_folder(tmp_path):
    make_dataset(tmp_path, 1)
    os.rename(tmp_path / 'images' / 'training', tmp_path / 'images' / 'train')
    message = build_error(tmp_path)
    assert f'image folder {str(tmp_path / "images" / "training")!r}' in message
    assert 'images/training/NAME.jpg' in message and 'data_root' in message


def test_missing_annotation_folder(tmp_path):
    make_dataset(tmp_path, 1)
    os.rename(tmp_path / 'annotations', tmp_path / 'labels')
    message = build_error(tmp_path)
    assert f'annotation folder {str(tmp_path / "annotations" / "training")!r}' in message
    assert 'does not exist' in message


def test_empty_image_folder(tmp_path):
    (tmp_path / 'images' / 'training').mkdir(parents=True)
    (tmp_path / 'annotations' / 'training').mkdir(parents=True)
    message = build_error(tmp_path)
    assert str(tmp_path / 'images' / 'training') in message
    assert 'no *.jpg file' in message and 'it is empty' in message
    assert 'make_demo_dataset.py' in message


def test_image_folder_with_other_suffix_names_the_fix(tmp_path):
    write_sample(str(tmp_path), 'a', valid_label(0), img_ext='.png')
    message = build_error(tmp_path)
    assert str(tmp_path / 'images' / 'training') in message
    assert "img_suffix='.png'" in message


def test_empty_annotation_folder(tmp_path):
    write_sample(str(tmp_path), 'a', None)
    message = build_error(tmp_path)
    assert str(tmp_path / 'annotations' / 'training') in message and 'no *.png file' in message


def test_plain_ade20k_fails_obscurely_where_the_checked_one_is_clear(tmp_path):
    """What the checks replace: mmengine's error without any path."""
    (tmp_path / 'images' / 'training').mkdir(parents=True)
    (tmp_path / 'annotations' / 'training').mkdir(parents=True)
    with pytest.raises(ValueError, match='need at least one array'):
        build(tmp_path, type='ADE20KDataset')


# ----------------------------------------------------------------------------------------------
# pairing, ann_file
# ----------------------------------------------------------------------------------------------

def test_image_without_label(tmp_path):
    make_dataset(tmp_path, 2)
    image, label = write_sample(str(tmp_path), 'sample_9_unlabelled', None)
    message = build_error(tmp_path)
    assert f'image {image!r} has no label file: expected {label!r}' in message
    assert '1 of 3 images' in message


def test_ann_file_missing_and_naming_a_missing_image(tmp_path):
    make_dataset(tmp_path, 2)
    with pytest.raises(FileNotFoundError, match='ann_file .*split.txt'):
        build(tmp_path, ann_file='split.txt')
    (tmp_path / 'split.txt').write_text('sample_0\nsample_7\n')
    with pytest.raises(FileNotFoundError) as info:
        build(tmp_path, ann_file='split.txt')
    assert str(tmp_path / 'images' / 'training' / 'sample_7.jpg') in str(info.value)
    (tmp_path / 'split.txt').write_text('sample_1\n')
    assert [d['img_path'] for d in build(tmp_path, ann_file='split.txt').load_data_list()] == [
        str(tmp_path / 'images' / 'training' / 'sample_1.jpg')]


# ----------------------------------------------------------------------------------------------
# per sample: size, values
# ----------------------------------------------------------------------------------------------

LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]


def test_label_of_another_size(tmp_path):
    image, label = write_sample(str(tmp_path), 'small', valid_label(0, size=6), image_size=(8, 10))
    dataset = build(tmp_path, LOAD + [CHECK])  # folders and pairing are fine
    with pytest.raises(ValueError) as info:
        dataset[0]
    message = str(info.value)
    assert image in message and label in message
    assert '6x6' in message and '8x10' in message


def test_size_is_checked_against_the_image_as_read_after_a_resize(tmp_path):
    """mmseg's test pipelines load the annotation after resizing the image."""
    write_sample(str(tmp_path), 'ok', valid_label(0))
    dataset = build(tmp_path, [dict(type='LoadImageFromFile'),
                               dict(type='Resize', scale=(16, 16), keep_ratio=True),
                               dict(type='LoadAnnotations'), CHECK])
    assert dataset[0]['gt_seg_map'].shape == (8, 8)


def test_label_values_out_of_range_with_reduce_zero_label(tmp_path):
    label = valid_label(0)
    label[0, 0], label[0, 1:3] = 152, 200  # loaded as 151 and 199
    _, path = write_sample(str(tmp_path), 'bad', label)
    dataset = build(tmp_path, LOAD + [CHECK])
    with pytest.raises(ValueError) as info:
        dataset[0]
    message = str(info.value)
    assert path in message
    assert '151 (1 px), 199 (2 px)' in message
    assert 'num_classes=150' in message and 'ignore index 255' in message
    assert 'reduce_zero_label=True' in message and 'file holds 152, 200' in message


def test_label_values_out_of_range_without_reduce_zero_label(tmp_path):
    label = np.full((8, 8), 3, np.uint8)
    label[4:, 4:] = 7
    _, path = write_sample(str(tmp_path), 'bad', label)
    dataset = build(tmp_path, LOAD + [dict(type='CheckSegMap', num_classes=5)],
                    type='CheckedBaseSegDataset', metainfo=dict(classes=list('abcde')))
    assert isinstance(dataset, CheckedBaseSegDataset)
    with pytest.raises(ValueError) as info:
        dataset[0]
    message = str(info.value)
    assert path in message and '7 (16 px)' in message and 'reduce_zero_label=False' in message
    assert 'num_classes=5' in message


def test_colour_label_map_is_rejected(tmp_path):
    _, path = write_sample(str(tmp_path), 'rgb', valid_label(0))
    cv2.imwrite(path, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match='single-channel'):
        build(tmp_path, LOAD + [CHECK])[0]


def test_misplaced_check_and_bad_arguments():
    with pytest.raises(KeyError, match='after LoadAnnotations'):
        CheckSegMap(num_classes=3)(dict(img_path='a.jpg', seg_map_path='a.png', ori_shape=(8, 8)))
    # an image without a label file (mmseg's inference_model / MMSegInferencer) passes as it came
    unlabelled = dict(img_path='a.jpg', ori_shape=(8, 8))
    assert CheckSegMap(num_classes=3)(unlabelled) is unlabelled
    assert unlabelled == dict(img_path='a.jpg', ori_shape=(8, 8))
    with pytest.raises(KeyError, match='LoadImageFromFile'):
        CheckSegMap(num_classes=3)(dict(gt_seg_map=np.zeros((8, 8), np.uint8)))
    with pytest.raises(ValueError, match='num_classes'):
        CheckSegMap(num_classes=0)
    # size only when num_classes is None
    results = dict(gt_seg_map=np.full((8, 8), 99, np.uint8), ori_shape=(8, 8))
    assert CheckSegMap()(results) is results
    assert repr(CheckSegMap(150)) == 'CheckSegMap(num_classes=150, ignore_index=255)'
