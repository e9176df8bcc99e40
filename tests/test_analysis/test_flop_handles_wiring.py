"""``import mmfeatup.models`` alone makes mmengine count the mmfeatup ops.

The handles are registered by ``mmfeatup.compat.install()`` (run when
``mmfeatup.registry`` / ``mmfeatup.models`` is imported), not by
:mod:`mmfeatup.analysis` itself; this test checks that wiring end to end, in a
fresh process started outside the repository (as a user's script would run).
"""
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest


REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SCRIPT = textwrap.dedent('''
    import json

    import mmfeatup.models  # the only set-up: registers the FLOP handles too
    import torch
    from mmengine.analysis import FlopAnalyzer, get_model_complexity_info
    from torch import nn

    from mmfeatup import ops
    from mmfeatup.registry import UPSAMPLERS

    ops.load_extension()
    print('BACKEND', ops.backend())


    class TinyJBU(nn.Module):
        """One fused JBU stage with nothing else counted."""

        def __init__(self, radius):
            super().__init__()
            self.radius = radius
            self.range_temp = nn.Parameter(torch.tensor(0.5))
            self.sigma = nn.Parameter(torch.tensor(1.0))

        def forward(self, padded, keys):
            return ops.jbu_upsample(padded, keys, self.range_temp, self.sigma, self.radius)


    b, c, d, h, w, r = 1, 4, 3, 6, 8, 2
    padded, keys = torch.randn(b, c, h + 2 * r, w + 2 * r), torch.randn(b, d, h, w)
    tiny = get_model_complexity_info(TinyJBU(r).eval(), inputs=(padded, keys),
                                     show_table=False, show_arch=False)
    stack = UPSAMPLERS.build(dict(type='JBUStack', in_channels=4, scale_factor=4)).eval()
    inputs = (torch.randn(1, 4, 4, 4), torch.rand(1, 3, 16, 16))
    real = get_model_complexity_info(stack, inputs=inputs)
    # the same count with the mmfeatup ops zeroed: everything else in the model
    zero = {f'mmfeatup::{name}': (lambda i, o: 0) for name in
            ('adaptive_conv', 'range_kernel', 'jbu_upsample', 'bicubic_adaptive_conv')}
    rest = FlopAnalyzer(stack, inputs).set_op_handle(**zero).unsupported_ops_warnings(False)
    print('RESULT', json.dumps(dict(tiny=tiny['flops'], stack=real['flops'],
                                    rest=rest.total())))
''')


def test_import_mmfeatup_models_registers_the_handles(tmp_path):
    script = tmp_path / 'complexity.py'
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (REPO, os.environ.get('PYTHONPATH')) if p))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    if 'BACKEND reference' in log:
        message = 'mmfeatup._ext is not built: the reference ops trace as aten ops'
        if os.environ.get('MMFEATUP_REQUIRE_EXT') == '1':
            pytest.fail(message)
        pytest.skip(message)
    assert 'Unsupported operator mmfeatup::' not in log, log
    assert 'Unsupported operator aten::mmfeatup::' not in log, log
    result = json.loads(log.split('RESULT ', 1)[1].splitlines()[0])
    # jbu_upsample, by hand: B*C*H*W*T + B*D*H*W*T, T = (2r+1)^2 = 25
    assert result['tiny'] == 1 * 4 * 6 * 8 * 25 + 1 * 3 * 6 * 8 * 25 == 8400
    # JBUStack: two stages (8x8, 16x16), T = 49, C = 4, key_dim 32, r = 3: on CPU the fused
    # bicubic_adaptive_conv (B*C*h*w*T + 8*B*C*(h+2r)*(w+2r)) + range_kernel (B*T*h*w*D) per
    # stage, on top of the rest of the model
    jbu_ops = sum(4 * s * s * 49 + 8 * 4 * (s + 6)**2 + 49 * s * s * 32 for s in (8, 16))
    assert result['rest'] > 0
    assert result['stack'] == result['rest'] + jbu_ops == result['rest'] + 586240
