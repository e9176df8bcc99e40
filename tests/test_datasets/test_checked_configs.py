"""The shipped segmentation configs use the data checks, and only add them: without the
CheckSegMap steps their pipelines are mmseg's (same samples, same augmentations)."""
import glob
import os.path as osp

import pytest

from mmfeatup.engine import load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEGFORMER = sorted(glob.glob(osp.join(ROOT, 'configs', 'segformer', '**', '*.py'),
                             recursive=True))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'demo', '*.py'))) + SEGFORMER
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def mmseg_config(name):
    import mmseg
    return load_config(osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs', name))


def pipelines(cfg):
    """(label, steps) of every dataset pipeline and of each TestTimeAug stage list."""
    found = [(loader, list(cfg[loader].dataset.pipeline)) for loader in LOADERS]
    for step in cfg.get('tta_pipeline', []):
        if step['type'] == 'TestTimeAug':  # a stage per list: flatten the one-choice stages
            found.append(('tta', [choices[0] for choices in step['transforms']]))
    return found


def without_checks(cfg, key):
    steps = cfg[key] if key == 'tta_pipeline' else cfg[key].dataset.pipeline
    if key == 'tta_pipeline':
        steps = [dict(s, transforms=[c for c in s['transforms'] if c[0]['type'] != 'CheckSegMap'])
                 if s['type'] == 'TestTimeAug' else s for s in steps]
    return [s for s in steps if s['type'] != 'CheckSegMap']


@pytest.mark.parametrize('path', [pytest.param(c, id=osp.basename(c)) for c in CONFIGS])
def test_config_checks_its_data(path):
    cfg = load_config(path)
    assert 'mmfeatup.datasets' in cfg.custom_imports['imports']
    head = cfg.model.decode_head
    for loader in LOADERS:
        assert cfg[loader].dataset.type == 'CheckedADE20KDataset', loader
    for label, steps in pipelines(cfg):
        types = [s['type'] for s in steps]
        assert types.count('LoadAnnotations') == types.count('CheckSegMap') == 1, (label, types)
        check = steps[types.index('LoadAnnotations') + 1]
        assert check['type'] == 'CheckSegMap', (label, types)
        assert check['num_classes'] == head.num_classes == 150
        assert check.get('ignore_index', 255) == head.get('ignore_index', 255)


@pytest.mark.parametrize('path', [pytest.param(c, id=osp.basename(c)) for c in SEGFORMER])
def test_segformer_data_is_mmseg_ade20k_plus_the_checks(path):
    cfg = load_config(path)
    stock = mmseg_config('segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'tta_pipeline'):
        assert without_checks(cfg, key) == without_checks(stock, key), key
    for loader in LOADERS:
        ours, theirs = dict(cfg[loader].dataset), dict(stock[loader].dataset)
        for data in (ours, theirs):
            for key in ('pipeline', 'type', '_scope_'):  # _scope_: added to mmseg:: bases
                data.pop(key, None)
        assert ours == theirs, loader
