#!/usr/bin/env bash
# Compile-check the CUDA kernels of mmfeatup._ext on a machine without a GPU.
#
# Builds the extension with FORCE_CUDA=1 into a throwaway directory (never in place,
# so an existing CPU-only mmfeatup/_ext*.so is left alone) and exits non-zero on any
# compile or link error. Needs the CUDA build of torch in the venv and nvcc 13.0.
#
# Usage: tools/check_cuda_build.sh [python]   (default: .venv/bin/python)
# Env:   CUDA_HOME (default /usr/local/cuda), TORCH_CUDA_ARCH_LIST (default "8.0;9.0"),
#        KEEP_BUILD=1 keeps the build directory; MMFEATUP_CUDA_BUILD_DIR=<dir> builds in (and
#        keeps) that directory, so a second run only recompiles changed sources (ninja).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${1:-${ROOT}/.venv/bin/python}"
export CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-8.0;9.0}"
export FORCE_CUDA=1
export MMFEATUP_WITH_OPS=1
unset MMFEATUP_WITH_CUDA

if [ ! -x "${CUDA_HOME}/bin/nvcc" ]; then
  echo "check_cuda_build: nvcc not found at ${CUDA_HOME}/bin/nvcc" >&2
  exit 2
fi
if ! "${PYTHON}" -c 'import sys, torch; sys.exit(0 if torch.version.cuda else 1)'; then
  echo "check_cuda_build: ${PYTHON} has a CPU-only torch; the CUDA build of torch is needed" >&2
  exit 2
fi
# ATen/cuda/CUDAContext.h includes cusparse.h etc., shipped in the nvidia-*-cu13 wheels.
CU13_INCLUDE="$("${PYTHON}" -c 'import os, sysconfig; print(os.path.join(sysconfig.get_paths()["purelib"], "nvidia", "cu13", "include"))')"
if [ ! -d "${CU13_INCLUDE}" ]; then
  echo "check_cuda_build: ${CU13_INCLUDE} not found (nvidia cu13 wheels missing?)" >&2
  exit 2
fi
export CPATH="${CU13_INCLUDE}${CPATH:+:${CPATH}}"

if [ -n "${MMFEATUP_CUDA_BUILD_DIR:-}" ]; then
  BUILD_DIR="${MMFEATUP_CUDA_BUILD_DIR}"
  mkdir -p "${BUILD_DIR}"
  rm -rf "${BUILD_DIR}/lib"
else
  BUILD_DIR="$(mktemp -d "${TMPDIR:-/tmp}/mmfeatup-cuda-build.XXXXXX")"
  if [ "${KEEP_BUILD:-0}" != "1" ]; then
    trap 'rm -rf "${BUILD_DIR}"' EXIT
  fi
fi

echo "check_cuda_build: nvcc $("${CUDA_HOME}/bin/nvcc" --version | tail -n 2 | head -n 1)"
echo "check_cuda_build: archs ${TORCH_CUDA_ARCH_LIST}, build dir ${BUILD_DIR}"
start=$(date +%s)
cd "${ROOT}"
"${PYTHON}" setup.py build_ext --build-temp "${BUILD_DIR}/temp" --build-lib "${BUILD_DIR}/lib"
so="$(find "${BUILD_DIR}/lib" -name '_ext*.so' | head -n 1)"
if [ -z "${so}" ]; then
  echo "check_cuda_build: FAILED, no _ext*.so produced" >&2
  exit 1
fi
# The CUDA kernels must be in the library: look for a CUDA entry point among the defined
# symbols (written to a file first: `nm | grep -q` under pipefail fails on SIGPIPE).
nm -C --defined-only "${so}" > "${BUILD_DIR}/symbols.txt"
if ! grep -E 'mmfeatup::(range_kernel_cuda|jbu_upsample_backward_cuda)\(' "${BUILD_DIR}/symbols.txt" > /dev/null; then
  echo "check_cuda_build: FAILED, ${so} has no CUDA kernels" >&2
  exit 1
fi
echo "check_cuda_build: OK in $(( $(date +%s) - start )) s (${so})"
