// Out-of-line float/double versions of the contiguous-loop helpers, compiled twice by GCC/clang
// (AVX2+FMA and baseline x86-64) and picked once at load time (target_clones / ifunc), so
// the kernels use 256-bit vectors where the CPU has them without -march=native builds.
// The clone is "arch=x86-64-v3" (AVX2, FMA, BMI2: selected by feature test) and not
// "arch=haswell", whose resolver asks "is this an Intel Haswell?" and so never picked the
// AVX2 clone on AMD CPUs (measured: 3.2 -> 11 GFLOP/s for adaptive_conv on an AMD EPYC).
#include "cpu_helpers.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define MMFEATUP_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MMFEATUP_SIMD_CLONES
#endif

namespace mmfeatup {
namespace cpu {
namespace {

// Always inlined so each SIMD clone below gets its own vectorised copy.
template <typename T>
__attribute__((always_inline)) inline void weighted_taps_blocks(
    T* __restrict__ out, const T* __restrict__ base, const int64_t* __restrict__ offsets,
    const T* __restrict__ w, int64_t taps, int64_t n) {
  constexpr int64_t kBig = 8 * 32 / sizeof(T);
  const int64_t big = n / kBig * kBig;
  weighted_taps_impl<T, 8>(out, base, offsets, w, taps, big);
  weighted_taps_impl<T, 1>(out + big, base + big, offsets, w, taps, n - big);
}

template <typename T>
__attribute__((always_inline)) inline void weighted_window_pair_blocks(
    T* __restrict__ out0, T* __restrict__ out1, const T* __restrict__ base,
    const int64_t* __restrict__ offsets, int64_t stride, const T* __restrict__ w0,
    const T* __restrict__ w1, int64_t diameter, int64_t n) {
  constexpr int64_t kBig = 4 * 32 / sizeof(T);
  const int64_t big = n / kBig * kBig;
  weighted_window_pair_impl<T, 4>(out0, out1, base, offsets, stride, w0, w1, diameter, big);
  weighted_window_pair_impl<T, 1>(out0 + big, out1 + big, base + big, offsets, stride, w0,
                                  w1, diameter, n - big);
}

template <typename T>
__attribute__((always_inline)) inline void weighted_taps_pair_blocks(
    T* __restrict__ out0, T* __restrict__ out1, const T* __restrict__ base,
    const int64_t* __restrict__ offsets, const T* __restrict__ w0, const T* __restrict__ w1,
    int64_t taps, int64_t n) {
  constexpr int64_t kBig = 4 * 32 / sizeof(T);
  const int64_t big = n / kBig * kBig;
  weighted_taps_pair_impl<T, 4>(out0, out1, base, offsets, w0, w1, taps, big);
  weighted_taps_pair_impl<T, 1>(out0 + big, out1 + big, base + big, offsets, w0, w1, taps,
                                n - big);
}

template <typename T>
__attribute__((always_inline)) inline void row_dots_blocks(
    T* __restrict__ out, const T* __restrict__ a, int64_t a_stride, const T* __restrict__ b,
    int64_t b_stride, int64_t depth, T scale, int64_t n) {
  constexpr int64_t kBig = 4 * 32 / sizeof(T);
  const int64_t big = n / kBig * kBig;
  row_dots_impl<T, 4>(out, a, a_stride, b, b_stride, depth, scale, big);
  row_dots_impl<T, 1>(out + big, a + big, a_stride, b + big, b_stride, depth, scale, n - big);
}

}  // namespace

// One SIMD-cloned definition of each entry point for T (signatures: cpu_helpers.h).
#define MMFEATUP_DEFINE_VECTOR_HELPERS_(T)                                                 \
  MMFEATUP_SIMD_CLONES MMFEATUP_WEIGHTED_TAPS_SIGNATURE(T) {                               \
    weighted_taps_blocks<T>(out, base, offsets, w, taps, n);                               \
  }                                                                                        \
  MMFEATUP_SIMD_CLONES MMFEATUP_WEIGHTED_WINDOW_PAIR_SIGNATURE(T) {                        \
    weighted_window_pair_blocks<T>(out0, out1, base, offsets, stride, w0, w1, diameter, n); \
  }                                                                                        \
  MMFEATUP_SIMD_CLONES MMFEATUP_WEIGHTED_TAPS_PAIR_SIGNATURE(T) {                          \
    weighted_taps_pair_blocks<T>(out0, out1, base, offsets, w0, w1, taps, n);              \
  }                                                                                        \
  MMFEATUP_SIMD_CLONES MMFEATUP_ROW_DOTS_SIGNATURE(T) {                                   \
    row_dots_blocks<T>(out, a, a_stride, b, b_stride, depth, scale, n);                    \
  }                                                                                        \
  MMFEATUP_SIMD_CLONES MMFEATUP_TAP_DOTS_SIGNATURE(T) {                                    \
    tap_dots_grouped_impl<T>(out, a, base, offsets, taps, n);                              \
  }                                                                                        \
  MMFEATUP_SIMD_CLONES MMFEATUP_AXPY_SIGNATURE(T) {                                        \
    for (int64_t k = 0; k < n; ++k) y[k] += a * x[k];                                      \
  }

MMFEATUP_DEFINE_VECTOR_HELPERS_(float)
MMFEATUP_DEFINE_VECTOR_HELPERS_(double)

}  // namespace cpu
}  // namespace mmfeatup
