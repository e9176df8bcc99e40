// Out-of-line float/double versions of the contiguous-loop helpers, compiled twice by GCC/clang
// (AVX2+FMA and baseline x86-64) and picked once at load time (target_clones / ifunc), so
// the kernels use 256-bit vectors where the CPU has them without -march=native builds.
#include "cpu_helpers.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define MMFEATUP_SIMD_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define MMFEATUP_SIMD_CLONES
#endif

namespace mmfeatup {
namespace cpu {

MMFEATUP_SIMD_CLONES void axpy(float* __restrict__ y, const float* __restrict__ x, float a,
                               int64_t n) {
  for (int64_t k = 0; k < n; ++k) y[k] += a * x[k];
}

MMFEATUP_SIMD_CLONES void axpy(double* __restrict__ y, const double* __restrict__ x, double a,
                               int64_t n) {
  for (int64_t k = 0; k < n; ++k) y[k] += a * x[k];
}

MMFEATUP_SIMD_CLONES float dot(const float* __restrict__ a, const float* __restrict__ b,
                               int64_t n) {
  return dot_impl(a, b, n);
}

MMFEATUP_SIMD_CLONES double dot(const double* __restrict__ a, const double* __restrict__ b,
                                int64_t n) {
  return dot_impl(a, b, n);
}

}  // namespace cpu
}  // namespace mmfeatup
