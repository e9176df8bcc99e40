"""Self-test of the compiled mmfeatup ops on a CUDA GPU (run by tools/gpu_selftest.sh).

A folder of modules run as a script (``python tools/gpu_selftest``): __main__.py (this
entry), main.py (the order of the checks), common.py (reporting, inputs), loading.py
(loading the ops without mmengine/mmseg), checks.py (value/autograd checks), large.py (the
>2^31 index checks, in a child process) and timing.py.

Needs only torch and numpy (never imports mmengine/mmseg). Prints one line per check,
``PASS <name> ...`` / ``FAIL <name> ...`` / ``SKIP <name> <reason>``, ``INFO`` lines and a
final ``SUMMARY``; exits 0 when nothing failed, 1 on any FAIL, 2 when the library cannot
be loaded, 3 when no CUDA GPU is visible (only the CPU-only checks ran, none failed).

Usage (normally through the wrapper, which builds the library first):
    python tools/gpu_selftest [--ext path/to/_ext.so] [--cpu-only] [--skip-large]
                                 [--skip-timing] [--large-timeout S]
``--ext`` loads that library as ``mmfeatup._ext`` (else the importable one is used).

Checks (CUDA):
  import_without_mmengine   ``import mmfeatup.ops`` with mmengine/mmseg/mmcv blocked
  extension                 the library has CUDA kernels; versions and device
  opcheck_*                 torch.library.opcheck of every op (float32; bfloat16 for the
                            differentiable ops, whose backward keeps a float32 state)
  gradcheck_*               float64 gradcheck on odd shapes
  gradgradcheck_*           float64 gradgradcheck (double backward) on odd shapes, and
                            gradcheck of the backward ops called directly
  cpu_vs_cuda_*             forward + backward of each op, radius 1..5, non-square, batch
                            > 1, C = 1, in float32, float16 and bfloat16 (float32
                            accumulation). The CPU runs in float32 on the same rounded
                            inputs; the error is max|cuda - cpu| / max|cpu| per tensor and
                            the tolerance is printed on each line
  minus_inf_logits_*        logits overflowing to -inf on the first taps: CUDA equals CPU
  low_precision_dtau_*      d(tau) in saturated windows, bf16/fp16 against float64
  large_index_*             n in (2^31 - 2^28, 2^31 - 1) with 32-bit indices and n > 2^31
                            (64-bit), in a child process with a timeout (an overflowing
                            grid-stride loop never ends); SKIP when GPU memory is short
  timing                    forward/backward per op against the memory-bandwidth floor
                            (bytes moved / the bandwidth of a 1 GiB device-to-device copy)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gpu_selftest.main import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(__doc__))
