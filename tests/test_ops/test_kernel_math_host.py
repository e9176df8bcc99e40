"""The CUDA kernels' shared arithmetic, compiled and run on the host (no GPU needed).

``ops/csrc/common/grid_stride.h`` (the grid-stride loop of every CUDA kernel, its launch
configuration and the 32/64-bit index decision) and ``ops/csrc/common/range_kernel_math.h`` (the
online softmax of the range kernel and the fused JBU) are plain C++ headers. The program
``host_kernel_math.cpp`` emulates GPU threads at the boundary sizes (n up to 2^31 - 1 with
32-bit indices, the step 2^28 of a capped launch), checks the online softmax against a
two-pass long-double softmax, -inf logits included, and prints the bicubic taps of
``bicubic_adaptive_conv_math.h`` with 32-bit indices for a comparison with PyTorch's resize. Built with the system C++ compiler.
"""
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SOURCE = os.path.join(HERE, 'host_kernel_math.cpp')
COMMON = os.path.join(ROOT, 'ops', 'csrc', 'common')


def _compiler():
    for name in (os.environ.get('CXX'), 'c++', 'g++', 'clang++'):
        if name and shutil.which(name):
            return shutil.which(name)
    pytest.skip('no C++ compiler found (set CXX)')


def _build(directory, *defines):
    exe = os.path.join(str(directory), 'host_kernel_math' + ''.join(defines))
    cmd = [_compiler(), '-std=c++17', '-O2', '-Wall', '-I', COMMON, SOURCE, '-o', exe]
    cmd += [f'-D{d}' for d in defines]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f'compile failed: {" ".join(cmd)}\n{result.stderr}'
    return exe


def _run(exe, test):
    result = subprocess.run([exe, test], capture_output=True, text=True, timeout=120)
    lines = result.stdout.splitlines()
    failed = [line for line in lines if line.startswith('FAIL')]
    return result.returncode, lines, failed


@pytest.fixture(scope='module')
def host_program(tmp_path_factory):
    return _build(tmp_path_factory.mktemp('host_kernel_math'))


@pytest.fixture(scope='module')
def old_code_program(tmp_path_factory):
    return _build(tmp_path_factory.mktemp('host_kernel_math_old'), 'MMFEATUP_TEST_OLD_CODE')


def test_grid_stride_loop_never_overflows(host_program):
    """Every emulated thread visits exactly its indices < n and stops, for 32-bit indices
    up to n = 2^31 - 1 (fits_int32 sends n <= 2^31 - 2 there) and 64-bit beyond."""
    rc, lines, failed = _run(host_program, 'loop')
    assert rc == 0 and not failed, '\n'.join(failed or lines)
    assert any('loop_int32_n=2147483646_' in line for line in lines)
    assert any('loop_int32_n=1879048193_' in line for line in lines)
    assert 'OK fits_int32_boundaries ' in lines


def test_online_softmax_handles_minus_inf(host_program):
    """online_softmax_push + the second pass equal torch.softmax's two-pass definition,
    with -inf logits first (NaN before the fix), last or everywhere."""
    rc, lines, failed = _run(host_program, 'softmax')
    assert rc == 0 and not failed, '\n'.join(failed or lines)
    assert 'OK softmax_float_first_tap_-inf ' in lines


def test_bicubic_taps_with_32bit_indices_equal_torch(host_program):
    """bicubic_padded_taps as the CUDA kernel instantiates it (int indices, float
    coefficients), per padded position, against F.interpolate's weights + reflect padding."""
    import torch
    import torch.nn.functional as F

    rc, lines, _ = _run(host_program, 'bicubic')
    assert rc == 0
    rows = {}
    for line in lines:
        fields = line.split()
        in_size, out, radius, pos = (int(v) for v in fields[1:5])
        rows.setdefault((in_size, out, radius), {})[pos] = (
            [int(v) for v in fields[5:9]], [float(v) for v in fields[9:13]])
    assert len(rows) == 8
    for (in_size, out, radius), taps in rows.items():
        eye = torch.eye(in_size).view(in_size, 1, in_size, 1)
        matrix = F.interpolate(eye, size=(out, 1), mode='bicubic',
                               align_corners=False).view(in_size, out).t()
        padded = F.pad(matrix.t()[None], [radius, radius], mode='reflect')[0].t() \
            if radius else matrix
        assert sorted(taps) == list(range(out + 2 * radius))
        for pos, (index, coef) in taps.items():
            row = torch.zeros(in_size)
            for i, c in zip(index, coef):
                assert 0 <= i < in_size
                row[i] += c
            torch.testing.assert_close(row, padded[pos], rtol=0, atol=1e-6,
                                       msg=f'in={in_size} out={out} r={radius} P={pos}')


def test_checks_detect_the_old_code(old_code_program):
    """The same checks on copies of the code before the fixes (`index += stride`, the push
    without the -inf guard) fail exactly where the defects were."""
    rc, lines, failed = _run(old_code_program, 'loop')
    assert rc == 1
    names = {line.split()[1] for line in failed}
    assert 'loop_int32_n=1879048193_stride=268435456' in names  # first overflowing n
    assert 'loop_int32_n=2147483646_stride=268435456' in names  # largest 32-bit launch
    assert 'loop_int32_n=1879048192_stride=268435456' not in names  # largest safe n
    assert not any('int64' in name for name in names)
    rc, lines, failed = _run(old_code_program, 'softmax')
    assert rc == 1
    names = {line.split()[1] for line in failed}
    assert {'softmax_float_first_tap_-inf', 'softmax_double_leading_-inf_taps'} <= names
    assert 'softmax_float_finite' not in names
