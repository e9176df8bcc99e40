"""The bundled ADE20K-format demo dataset: deterministic, ADE layout and label convention,
exact labels, loadable by mmseg's ADE20KDataset with reduce_zero_label."""
import hashlib
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmfeatup.datasets.ade_demo import (ADE_CLASS_INDEX, compose_sample, ensure_ade_demo,
                                        is_ade_demo, load_stuff, load_things, make_ade_demo)

ALLOWED = {0} | {i + 1 for i in ADE_CLASS_INDEX.values()}


def digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(osp.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ade_demo_a'))
    meta = make_ade_demo(root, num_train=6, num_val=3, size=64, seed=0)
    return root, meta


def test_ade_class_indices_match_mmseg():
    from mmseg.datasets import ADE20KDataset
    classes = [c.strip() for c in ADE20KDataset.METAINFO['classes']]
    for name, index in ADE_CLASS_INDEX.items():
        assert classes[index] == name


def test_layout_and_completeness(dataset):
    root, meta = dataset
    assert is_ade_demo(root)
    for split, count in (('training', 6), ('validation', 3)):
        images = sorted(os.listdir(osp.join(root, 'images', split)))
        labels = sorted(os.listdir(osp.join(root, 'annotations', split)))
        assert len(images) == len(labels) == count
        assert [i[:-4] for i in images] == [a[:-4] for a in labels]
        assert all(i.endswith('.jpg') for i in images) and all(a.endswith('.png') for a in labels)
    os.remove(osp.join(root, 'images', 'validation', sorted(
        os.listdir(osp.join(root, 'images', 'validation')))[0]))
    assert not is_ade_demo(root)  # an incomplete dataset is detected (and would be rebuilt)
    make_ade_demo(root, num_train=6, num_val=3, size=64, seed=0)
    assert is_ade_demo(root)


def test_label_convention(dataset):
    root, meta = dataset
    seen = set()
    for split in ('training', 'validation'):
        folder = osp.join(root, 'annotations', split)
        for name in os.listdir(folder):
            label = cv2.imread(osp.join(folder, name), cv2.IMREAD_UNCHANGED)
            assert label.dtype == np.uint8 and label.shape == (64, 64)
            seen |= set(np.unique(label).tolist())
    assert seen <= ALLOWED
    assert len(seen - {0}) >= 3  # stuff and things appear
    assert set(meta['classes']) <= set(ADE_CLASS_INDEX)


def test_deterministic(dataset, tmp_path):
    root, _ = dataset
    again = str(tmp_path / 'again')
    make_ade_demo(again, num_train=6, num_val=3, size=64, seed=0)
    assert digest(again) == digest(root)
    other = str(tmp_path / 'other')
    make_ade_demo(other, num_train=6, num_val=3, size=64, seed=1)
    assert digest(other) != digest(root)


def test_labels_are_exact_by_construction():
    """Every pixel labelled as a stuff class carries that texture photo's pixels."""
    stuff, things = load_stuff(), load_things()
    assert len(stuff) == 3 and len(things) >= 8
    assert all(t.mask.any() and t.mask.shape == t.rgb.shape[:2] for t in things)
    rng = np.random.default_rng(3)
    image, label = compose_sample(stuff, things, 96, rng)
    assert image.shape == (96, 96, 3) and label.shape == (96, 96)
    # stuff photos are grey-scale: wherever a stuff class is labelled, R == G == B exactly
    stuff_labels = [index + 1 for _, index, _ in stuff]
    stuff_pixels = np.isin(label, stuff_labels)
    assert stuff_pixels.any()
    assert np.array_equal(image[stuff_pixels][:, 0], image[stuff_pixels][:, 1])
    # object pixels are the coloured photographs: some are not grey
    thing_pixels = ~stuff_pixels & (label > 0)
    assert thing_pixels.any()
    rgb = image[thing_pixels].astype(int)
    assert (np.abs(rgb[:, 0] - rgb[:, 1]) > 10).any()


def test_loads_in_mmseg_ade20k_dataset(dataset):
    from mmengine.registry import init_default_scope

    import mmfeatup.models  # noqa: F401
    from mmfeatup.registry import DATASETS
    init_default_scope('mmseg')
    root, _ = dataset
    ds = DATASETS.build(dict(
        type='ADE20KDataset', data_root=root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations', reduce_zero_label=True),
                  dict(type='PackSegInputs')]))
    assert len(ds) == 6
    item = ds[0]
    gt = item['data_samples'].gt_sem_seg.data.numpy()
    raw = cv2.imread(item['data_samples'].seg_map_path, cv2.IMREAD_UNCHANGED)
    assert np.array_equal(gt[0][raw == 0], np.full((raw == 0).sum(), 255))
    assert np.array_equal(gt[0][raw > 0], raw[raw > 0].astype(np.int64) - 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match='num_train'):
        make_ade_demo('/nonexistent', num_train=0)
    with pytest.raises(ValueError, match='size'):
        make_ade_demo('/nonexistent', size=16)


def test_ensure_builds_once_and_rebuilds_for_other_arguments(tmp_path):
    root = str(tmp_path / 'demo')
    calls = []
    meta, built = ensure_ade_demo(root, num_train=2, num_val=1, size=32,
                                  progress=lambda done, total: calls.append((done, total)))
    assert built and is_ade_demo(root) and calls[-1] == (3, 3)
    assert (meta['num_train'], meta['num_val'], meta['size'], meta['seed']) == (2, 1, 32, 0)
    again, built = ensure_ade_demo(root)  # any complete dataset is accepted: kept
    assert not built and again == meta
    _, built = ensure_ade_demo(root, num_train=2, num_val=1, size=32, seed=0)
    assert not built
    other, built = ensure_ade_demo(root, num_train=2, num_val=1, size=32, seed=1)
    assert built and other['seed'] == 1 and is_ade_demo(root)
