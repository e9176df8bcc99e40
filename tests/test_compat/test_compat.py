import importlib
import subprocess
import sys

import pytest

from mmfeatup import compat


def test_import_mmfeatup_has_no_side_effects(fresh_python):
    """``import mmfeatup`` loads nothing; ``import mmfeatup.ops`` loads only the op library
    (so ``torch.ops.mmfeatup.*`` exist): no stack shim, no mmseg, no random draw."""
    code = ('import sys, torch; s = torch.initial_seed(); import mmfeatup; '
            "assert 'mmfeatup._ext' not in sys.modules; import mmfeatup.ops; "
            'assert torch.initial_seed() == s; '
            "assert 'mmcv._ext' not in sys.modules; assert 'mmseg' not in sys.modules")
    stdout = fresh_python(code)
    assert stdout == ''


def test_mmseg_models_import_through_shim(fresh_python):
    code = ('import mmfeatup.models, mmseg.models, sys; '
            "stub = sys.modules['mmcv._ext']; assert stub.is_mmfeatup_stub; "
            'from mmengine.utils.dl_utils import mmcv_full_available; '
            'print(mmcv_full_available())')
    stdout = fresh_python(code)
    # the stub has no loader: mmengine does not mistake it for a full mmcv
    assert stdout.strip().splitlines()[-1] == 'False', stdout


def test_stub_functions_raise_clearly():
    compat.ensure_mmcv_ops_importable()
    if compat.has_real_mmcv_ext():
        pytest.skip('a full mmcv is installed; the stub is not used')
    ext = importlib.import_module('mmcv._ext')
    with pytest.raises(NotImplementedError, match='carafe_forward'):
        ext.carafe_forward()


def test_real_extension_is_never_shadowed(monkeypatch):
    fake = type(sys)('mmcv._ext')
    monkeypatch.setitem(sys.modules, 'mmcv._ext', fake)
    assert compat.has_real_mmcv_ext()
    assert compat.ensure_mmcv_ops_importable() is False
    assert sys.modules['mmcv._ext'] is fake


def _mmengine_like_checkpoint():
    """What mmengine's Runner.save_checkpoint writes, in small: weights, message hub, meta."""
    import numpy as np
    import torch
    from mmengine.logging import MessageHub
    hub = MessageHub('compat-test')
    for value in (1.5, 2.5):
        hub.update_scalar('train/loss', value)
    hub.update_info('iter', np.int64(3))
    return dict(meta=dict(iter=3, seed=np.float32(0.5), dataset_meta=dict(classes=('a', 'b'))),
                state_dict={'w': torch.ones(2)}, message_hub=hub.state_dict(),
                extra=dict(rng=np.random.get_state()))


class _RunsCode:
    """A pickle that would run a shell command when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f'touch {self.marker}',))


class _GetsAttribute:
    """``getattr`` on HistoryBuffer beyond its statistics methods."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


def test_weights_only_loads_mmengine_checkpoints_and_refuses_code(tmp_path):
    """After the install point (``import mmfeatup.models``), in a fresh process: default
    ``torch.load`` (weights-only) reads mmengine checkpoints and refuses code."""
    import torch
    good, bomb, sneaky = tmp_path / 'good.pth', tmp_path / 'bomb.pth', tmp_path / 'sneaky.pth'
    marker = tmp_path / 'ran'
    torch.save(_mmengine_like_checkpoint(), good)
    torch.save({'state_dict': {}, 'x': _RunsCode(marker)}, bomb)
    torch.save({'x': _GetsAttribute()}, sneaky)
    code = f"""
import pickle, torch
try:
    torch.load({str(good)!r})
    raise SystemExit('loaded before the install point')
except pickle.UnpicklingError:
    pass
import mmfeatup.models
hub = torch.load({str(good)!r})['message_hub']
print('loss', hub['log_scalars']['train/loss'].mean())
for path in ({str(bomb)!r}, {str(sneaky)!r}):
    try:
        torch.load(path)
        raise SystemExit('loaded ' + path)
    except pickle.UnpicklingError as error:
        print('REFUSED:', ' '.join(str(error).split()))
"""
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert 'loss 2.0' in out.stdout
    assert out.stdout.count('REFUSED:') == 2
    assert 'only the statistics methods' in out.stdout + out.stderr
    assert not marker.exists()


def test_read_checkpoint_is_weights_only(tmp_path):
    import torch

    from mmfeatup.utils import read_checkpoint
    good, bomb, marker = tmp_path / 'good.pth', tmp_path / 'bomb.pth', tmp_path / 'ran'
    torch.save(_mmengine_like_checkpoint(), good)
    torch.save({'x': _RunsCode(marker)}, bomb)
    compat.allow_mmengine_checkpoints()  # as after the install point
    assert torch.equal(read_checkpoint(str(good))['state_dict']['w'], torch.ones(2))
    torch.load(good)  # read_checkpoint left the process-wide allow-list in place
    with pytest.raises(RuntimeError, match=r'refused .*bomb\.pth.*system'):
        read_checkpoint(str(bomb))
    assert not marker.exists()


def test_install_point_is_the_registry(fresh_python):
    """``import mmfeatup.registry`` installs every shim once; the package itself none."""
    code = ('import torch, mmfeatup.ops; n = len(torch.serialization.get_safe_globals()); '
            'import mmfeatup.registry, sys; from mmfeatup import compat; '
            'assert len(torch.serialization.get_safe_globals()) > n; '
            "assert 'mmcv._ext' in sys.modules; "
            'm = len(torch.serialization.get_safe_globals()); compat.install(); '
            'compat.allow_mmengine_checkpoints(); '
            'assert len(torch.serialization.get_safe_globals()) == m; '
            'from mmengine.analysis.complexity_analysis import _DEFAULT_SUPPORTED_FLOP_OPS as ops; '
            "assert any(k.startswith('mmfeatup::') for k in ops)")
    fresh_python(code)
