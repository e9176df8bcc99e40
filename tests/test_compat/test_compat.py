import importlib
import subprocess
import sys

import pytest

from mmfeatup import compat


def test_import_mmfeatup_has_no_side_effects():
    code = ('import sys, torch; s = torch.initial_seed(); import mmfeatup, mmfeatup.ops; '
            'assert torch.initial_seed() == s; '
            "assert 'mmcv._ext' not in sys.modules; assert 'mmseg' not in sys.modules; "
            "assert 'mmfeatup._ext' not in sys.modules")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ''


def test_mmseg_models_import_through_shim():
    code = ('import mmfeatup.models, mmseg.models, sys; '
            "stub = sys.modules['mmcv._ext']; assert stub.is_mmfeatup_stub; "
            'from mmengine.utils.dl_utils import mmcv_full_available; '
            'print(mmcv_full_available())')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


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


def test_allow_full_checkpoint_loading(tmp_path, monkeypatch):
    import torch
    from mmengine.logging import HistoryBuffer
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', 'placeholder')
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')  # restored (unset) at teardown
    path = tmp_path / 'ckpt.pth'
    torch.save({'message_hub': HistoryBuffer()}, path)
    with pytest.raises(Exception, match='[Ww]eights only'):
        torch.load(path)
    compat.allow_full_checkpoint_loading()
    with pytest.warns(UserWarning, match='TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'):
        assert isinstance(torch.load(path)['message_hub'], HistoryBuffer)
