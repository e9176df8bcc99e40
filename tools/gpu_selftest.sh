#!/usr/bin/env bash
# Self-test of the compiled mmfeatup ops on a machine with a CUDA GPU (< 5 min).
#
# Builds mmfeatup._ext (CPU + CUDA kernels) against the torch that `python` finds, into a
# separate build directory (an in-place mmfeatup/_ext*.so is left alone), then runs
# tools/gpu_selftest with that library. Needs only python with torch (CUDA build) and
# numpy, nvcc and a C++ compiler: no network, no venv, no mmengine/mmseg (the checks import
# mmfeatup.ops with those blocked; if that fails they load the library files directly).
#
# Usage:  bash tools/gpu_selftest.sh [python]        (default: $PYTHON, else the repository's
#         .venv/bin/python when it exists, else python3)
# Env:    CUDA_HOME (default: /usr/local/cuda, else the nvcc on PATH)
#         TORCH_CUDA_ARCH_LIST (default: the visible GPU's compute capability, e.g. "9.0")
#         MMFEATUP_SELFTEST_BUILD_DIR (default: /tmp/mmfeatup-gpu-selftest; kept, so a
#         second run only recompiles changed sources), MAX_JOBS (default: nproc)
#         SKIP_BUILD=1 uses the library already built in that directory (or, if none, the
#         importable mmfeatup._ext)
#         Extra arguments after the python are passed to tools/gpu_selftest (see its --help),
#         e.g. --skip-large, --skip-timing.
# Output: one line per check, "PASS <name> ..." / "FAIL <name> ..." / "SKIP <name> <reason>",
#         plus "INFO" lines (versions, timing table) and a final "SUMMARY" line.
# Exit:   0  every check passed (SKIPs allowed, each with its reason printed)
#         1  at least one check FAILed
#         2  set-up error: no torch, the build failed, the library could not be loaded
#         3  no CUDA GPU visible: nothing was built; the CPU-only checks ran against the
#            already importable mmfeatup._ext (their own PASS/FAIL lines; exit 1 if one
#            failed) and every CUDA check is reported as SKIP
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEFAULT_PYTHON=python3
[ -x "${ROOT}/.venv/bin/python" ] && DEFAULT_PYTHON="${ROOT}/.venv/bin/python"
PYTHON="${1:-${PYTHON:-${DEFAULT_PYTHON}}}"
shift || true
cd "${ROOT}"

if ! "${PYTHON}" -c 'import torch, numpy' 2>/dev/null; then
  echo "FAIL setup: ${PYTHON} cannot import torch and numpy"
  exit 2
fi
if ! "${PYTHON}" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "INFO no CUDA GPU visible to ${PYTHON} (torch $("${PYTHON}" -c 'import torch; print(torch.__version__)')): running the CPU-only checks, skipping the build"
  "${PYTHON}" tools/gpu_selftest --cpu-only "$@"
  rc=$?
  [ "${rc}" -eq 0 ] && rc=3
  exit "${rc}"
fi

BUILD_DIR="${MMFEATUP_SELFTEST_BUILD_DIR:-/tmp/mmfeatup-gpu-selftest}"
EXT_ARGS=()
if [ "${SKIP_BUILD:-0}" != "1" ]; then
  if [ -z "${CUDA_HOME:-}" ]; then
    if [ -x /usr/local/cuda/bin/nvcc ]; then
      CUDA_HOME=/usr/local/cuda
    elif command -v nvcc > /dev/null; then
      CUDA_HOME="$(dirname "$(dirname "$(command -v nvcc)")")"
    fi
  fi
  if [ -z "${CUDA_HOME:-}" ] || [ ! -x "${CUDA_HOME}/bin/nvcc" ]; then
    echo "FAIL build: nvcc not found (set CUDA_HOME)"
    exit 2
  fi
  export CUDA_HOME
  export PATH="${CUDA_HOME}/bin:${PATH}"
  if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
    TORCH_CUDA_ARCH_LIST="$("${PYTHON}" -c 'import torch; print(";".join(sorted({"%d.%d" % torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())})))')"
  fi
  export TORCH_CUDA_ARCH_LIST
  export FORCE_CUDA=1 MMFEATUP_WITH_OPS=1
  unset MMFEATUP_WITH_CUDA
  export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
  # Headers of the nvidia-* wheels (cusparse.h, ...: nvidia/cu13/include, or one
  # nvidia/<lib>/include per library for cu12) when torch came from pip.
  CU_INCLUDE="$("${PYTHON}" -c 'import glob, os, sysconfig; print(":".join(sorted(glob.glob(os.path.join(sysconfig.get_paths()["purelib"], "nvidia", "*", "include")))))' 2>/dev/null || true)"
  if [ -n "${CU_INCLUDE}" ]; then
    export CPATH="${CU_INCLUDE}${CPATH:+:${CPATH}}"
  fi
  mkdir -p "${BUILD_DIR}"
  rm -rf "${BUILD_DIR}/lib"
  echo "INFO build: nvcc $("${CUDA_HOME}/bin/nvcc" --version | tail -n 2 | head -n 1), archs ${TORCH_CUDA_ARCH_LIST}, ${MAX_JOBS} jobs, dir ${BUILD_DIR}"
  start=$(date +%s)
  if ! "${PYTHON}" setup.py build_ext --build-temp "${BUILD_DIR}/temp" \
      --build-lib "${BUILD_DIR}/lib" > "${BUILD_DIR}/build.log" 2>&1; then
    tail -n 40 "${BUILD_DIR}/build.log"
    echo "FAIL build: setup.py build_ext failed (log: ${BUILD_DIR}/build.log)"
    exit 2
  fi
  echo "PASS build $(( $(date +%s) - start )) s"
fi
so="$(find "${BUILD_DIR}/lib" -name '_ext*.so' 2>/dev/null | head -n 1)"
if [ -n "${so}" ]; then
  EXT_ARGS=(--ext "${so}")
elif [ "${SKIP_BUILD:-0}" != "1" ]; then
  echo "FAIL build: no _ext*.so under ${BUILD_DIR}/lib"
  exit 2
fi
exec "${PYTHON}" tools/gpu_selftest ${EXT_ARGS[@]+"${EXT_ARGS[@]}"} "$@"
