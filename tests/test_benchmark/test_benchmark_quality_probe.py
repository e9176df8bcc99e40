"""The linear-probe quality measure: data loading, the probe's fit and score, one end-to-end row."""
import numpy as np
import pytest
import torch
from PIL import Image

from mmfeatup.benchmark.quality_probe import (IGNORE, load_split, run_probe, score_probe,
                                              train_probe)
from mmfeatup.benchmark.timer import Progress


@pytest.fixture
def ade_folder(tmp_path):
    """A tiny ADE20K-format set: left half class 3, right half class 7 (png 4 / 8), a 0 band."""
    rng = np.random.default_rng(0)
    for split, count in (('training', 3), ('validation', 2)):
        (tmp_path / 'images' / split).mkdir(parents=True)
        (tmp_path / 'annotations' / split).mkdir(parents=True)
        for i in range(count):
            image = rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)
            image[:, 48:] //= 4  # the right half darker: the classes are visible
            label = np.full((80, 96), 4, np.uint8)
            label[:, 48:] = 8
            label[:4] = 0
            Image.fromarray(image).save(tmp_path / 'images' / split / f'{i}.jpg')
            Image.fromarray(label).save(tmp_path / 'annotations' / split / f'{i}.png')
    return tmp_path


def test_load_split_crops_and_shifts_labels(ade_folder):
    images, labels = load_split(str(ade_folder), 'training', 64)
    assert images.shape == (3, 3, 64, 64) and labels.shape == (3, 64, 64)
    assert 0 <= float(images.min()) and float(images.max()) <= 1
    assert set(labels.unique().tolist()) == {3, 7, IGNORE}  # png 4/8 -> 3/7, 0 -> ignored
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_split(str(ade_folder), 'test', 64)


def test_probe_fits_separable_features_and_scores_exactly():
    labels = torch.randint(0, 4, (6, 16, 16))
    labels[:, 0] = IGNORE
    onehot = torch.nn.functional.one_hot(labels.clamp(max=3), 4).permute(0, 3, 1, 2).half()
    probe = train_probe(onehot, labels, 4, steps=200, lr=0.1)
    scores = score_probe(probe, onehot, labels, 4)
    assert scores['acc'] == pytest.approx(100.0) and scores['mIoU'] == pytest.approx(100.0)
    # a constant prediction: accuracy = share of class 0, IoU averaged over classes 0..3
    constant = torch.nn.Conv2d(4, 4, 1)
    with torch.no_grad():
        constant.weight.zero_()
        constant.bias.copy_(torch.tensor([1.0, 0, 0, 0]))
    valid = labels != IGNORE
    share = float((labels[valid] == 0).float().mean())
    scores = score_probe(constant, onehot, labels, 4)
    assert scores['acc'] == pytest.approx(100 * share, rel=1e-6)
    assert scores['mIoU'] == pytest.approx(100 * share / 4, rel=1e-6)
    per_image = [float((lab[lab != IGNORE] == 0).float().mean()) * 100 for lab in labels]
    assert scores['acc_per_image'] == pytest.approx(per_image, rel=1e-6)


def test_run_probe_row_for_a_parameter_free_upsampler(ade_folder, tmp_path):
    results = run_probe(['Bilinear'], [0, 1], iters=5, train_dir=str(tmp_path),
                        featurizer='efficientnet_lite0_s16', data_root=str(ade_folder), size=64,
                        progress=Progress(1, 'probe'), probe_steps=20, num_classes=10)
    row = results['Bilinear']
    assert 'error' not in row, row
    assert row['trained'] is False and row['seeds'] == [0, 1]
    assert len(row['mIoU']) == 2 and all(0 <= v <= 100 for v in row['mIoU'] + row['acc'])
    assert row['num_train'] == 3 and row['num_val'] == 2
    assert [len(scores) for scores in row['acc_per_image']] == [2, 2]
