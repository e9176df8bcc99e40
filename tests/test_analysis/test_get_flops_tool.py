"""tools/analysis_tools/get_flops.py: mmseg's FLOP counter, working for our configs."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'get_flops.py')
CONFIG = osp.join(REPO, 'configs', 'segformer', 'segformer_mit-b0_jbu_8xb2-160k_ade20k-512x512.py')


def test_shape_argument(load_tool):
    tool = load_tool('analysis_tools/get_flops.py')
    assert tool.input_shape([64]) == (3, 64, 64)
    assert tool.input_shape([64, 96]) == (3, 64, 96)
    with pytest.raises(ValueError, match='invalid input shape'):
        tool.input_shape([1, 2, 3])
    args = tool.parse_args([CONFIG])
    assert args.shape == [2048, 1024] and args.cfg_options is None
    args = tool.parse_args([CONFIG, '--shape', '64', '--cfg-options', 'model.neck.in_index=[2,3]'])
    assert args.shape == [64] and args.cfg_options == {'model.neck.in_index': [2, 3]}


@pytest.mark.slow
def test_segformer_jbu_config_from_outside_the_repo(tmp_path):
    """The SegFormer + JBU neck config, run as a script from another directory."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (REPO, os.environ.get('PYTHONPATH')) if p))
    out = subprocess.run([sys.executable, TOOL, CONFIG, '--shape', '64', '96'], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert 'Unsupported operator mmfeatup::' not in log, log
    assert 'Unsupported operator aten::mmfeatup::' not in log, log
    assert 'Input shape: (64, 96)' in out.stdout
    flops = re.search(r'^Flops: ([\d.]+)([KMGT]?)$', out.stdout, re.MULTILINE)
    assert flops is not None, out.stdout
    assert float(flops.group(1)) > 0
    assert re.search(r'^Params: [\d.]+M$', out.stdout, re.MULTILINE), out.stdout
