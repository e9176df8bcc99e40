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


def test_probe_on_sampled_pixels_fits_and_keeps_whole_maps_by_default():
    labels = torch.randint(0, 4, (6, 16, 16))
    onehot = torch.nn.functional.one_hot(labels, 4).permute(0, 3, 1, 2).half()
    sampled = train_probe(onehot, labels, 4, steps=200, lr=0.1, pixels=32)
    assert score_probe(sampled, onehot, labels, 4)['acc'] == pytest.approx(100.0)
    # pixels >= the map: the whole map, the same fit as without sampling
    whole = train_probe(onehot, labels, 4, steps=5, lr=0.1)
    same = train_probe(onehot, labels, 4, steps=5, lr=0.1, pixels=16 * 16)
    assert torch.equal(whole.weight, same.weight)


def test_saved_upsampler_is_reused_only_for_its_own_config(tmp_path):
    from mmfeatup.benchmark.trained import frozen_upsampler
    from mmfeatup.engine import save_upsampler
    from mmfeatup.models.featurizers import build_featurizer
    from mmfeatup.registry import build_upsampler
    frozen = build_featurizer('efficientnet_lite0_s16')
    cfg = dict(type='ResizeConv', scale_factor=16)
    model = build_upsampler(cfg, in_channels=frozen.channels, guidance_channels=3)
    path = str(tmp_path / 'ResizeConv_seed0.pth')
    save_upsampler(model, path, dict(upsampler=cfg, seed=0, iters=150))
    loaded = frozen_upsampler(cfg, frozen, path, dict(seed=0, iters=150))
    assert not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    with pytest.raises(ValueError, match='holds an upsampler'):
        frozen_upsampler(dict(cfg, scale_factor=8), frozen, path)
    with pytest.raises(ValueError, match=r'trained otherwise: seed 0 \(expected 1\)'):
        frozen_upsampler(cfg, frozen, path, dict(seed=1, iters=150))


def test_reusable_checkpoints_need_the_same_config_at_both_sizes():
    from mmfeatup.benchmark.trained import reusable_checkpoints
    recon = dict(ResizeConv=dict(seeds=[0, 1], checkpoint=['a.pth', 'b.pth']),
                 Bilinear=dict(seeds=[0], checkpoint=[None]))
    assert reusable_checkpoints(recon, None, 16, 112, 128) == {('ResizeConv', 0): 'a.pth',
                                                              ('ResizeConv', 1): 'b.pth'}
    # 112 -> 7x7 (x16) but 120 -> 7x7 (x17.1): another scale factor, nothing reusable
    assert reusable_checkpoints(recon, None, 16, 112, 120) == {}
