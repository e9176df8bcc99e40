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

// out[b][p][c] = in[b][c][p] for p < plane, c < channels, in tiles of kChannelTile channels x
// kPixelTile pixels: each tile reads kChannelTile runs of kPixelTile contiguous values and writes
// kPixelTile runs of kChannelTile, all within a few KiB. Parallel over (batch, pixel tile), at
// least kGrainSize values per task (small maps stay on one thread).
template <typename T>
void transpose_planes(const T* __restrict__ in, T* __restrict__ out, int64_t batch,
                      int64_t channels, int64_t plane) {
  constexpr int64_t kPixelTile = 64, kChannelTile = 32;
  const int64_t tiles = (plane + kPixelTile - 1) / kPixelTile;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / (kPixelTile * channels));
  at::parallel_for(0, batch * tiles, grain, [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index) {
      const int64_t b = index / tiles, p0 = index % tiles * kPixelTile;
      const int64_t p1 = std::min(plane, p0 + kPixelTile);
      const T* in_b = in + b * channels * plane;
      T* out_b = out + b * plane * channels;
      for (int64_t c0 = 0; c0 < channels; c0 += kChannelTile) {
        const int64_t c1 = std::min(channels, c0 + kChannelTile);
        // one contiguous input run at a time: the runs of a tile are `plane` values apart,
        // often a multiple of 4 KiB (224^2 floats), and read side by side they would all
        // fall in one L1 set
        for (int64_t c = c0; c < c1; ++c) {
          const T* src = in_b + c * plane;
          for (int64_t p = p0; p < p1; ++p) out_b[p * channels + c] = src[p];
        }
      }
    }
  });
}

}  // namespace

at::Tensor channels_innermost(const at::Tensor& t) {
  const at::Tensor permuted = t.permute({0, 2, 3, 1});
  if (permuted.is_contiguous()) return permuted;
  if (!t.is_contiguous() || t.numel() == 0 ||
      (t.scalar_type() != at::kFloat && t.scalar_type() != at::kDouble)) {
    return permuted.contiguous();
  }
  at::Tensor out = at::empty(permuted.sizes(), t.options());  // contiguous [B, H, W, C]
  AT_DISPATCH_FLOATING_TYPES(t.scalar_type(), "channels_innermost", [&] {
    transpose_planes<scalar_t>(t.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), t.size(0),
                               t.size(1), t.size(2) * t.size(3));
  });
  return out;
}

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
