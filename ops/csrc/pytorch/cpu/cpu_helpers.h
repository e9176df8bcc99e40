// Small contiguous-loop helpers for the CPU kernels (auto-vectorised at -O3).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace mmfeatup {

using at::Tensor;

namespace cpu {

// [B, C, H, W] -> a contiguous [B, H, W, C] tensor: no copy when t is channels-last already;
// a contiguous float/double t is transposed in cache-sized tiles, in parallel (ATen's strided
// copy of the permuted view ran at ~3 GB/s on a 77 MB map), any other layout by ATen.
// The CPU kernels read features and keys so (any input layout).
at::Tensor channels_innermost(const at::Tensor& t);

// Rows per at::parallel_for task so that each task has at least kGrainSize multiply-adds
// (ATen's GRAIN_SIZE): small problems stay on one thread (no OpenMP overhead), large ones
// use every thread.
constexpr int64_t kGrainSize = 32768;
inline int64_t row_grain(int64_t work_per_row) {
  return std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, work_per_row));
}

// Runs f(b, y, index, scratch) for every row index = b * rows + y of a [batch, rows] grid,
// in parallel (at::parallel_for with row_grain(work_per_row)); scratch = make_scratch() is
// built once per task (per-thread buffers).
template <typename MakeScratch, typename F>
void parallel_rows(int64_t batch, int64_t rows, int64_t work_per_row, MakeScratch make_scratch,
                   F f) {
  at::parallel_for(0, batch * rows, row_grain(work_per_row), [&](int64_t begin, int64_t end) {
    auto scratch = make_scratch();
    for (int64_t index = begin; index < end; ++index) f(index / rows, index % rows, index, scratch);
  });
}

// Offsets of the taps t = (i, j) of a (2r+1)^2 window from its top-left corner in a
// channels-innermost [rows, row_pixels, channels] buffer: (i * row_pixels + j) * channels.
inline std::vector<int64_t> window_offsets(int64_t radius, int64_t row_pixels, int64_t channels) {
  const int64_t diameter = 2 * radius + 1;
  std::vector<int64_t> offsets(diameter * diameter);
  for (int64_t i = 0; i < diameter; ++i) {
    for (int64_t j = 0; j < diameter; ++j) offsets[i * diameter + j] = (i * row_pixels + j) * channels;
  }
  return offsets;
}

// The unaligned load of one vector Vec (GCC/clang vector extension) from p.
template <typename Vec, typename T>
__attribute__((always_inline)) inline Vec load_vector(const T* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(Vec));
  return v;
}

// out[k] = sum_t w[t] * base[offsets[t] + k] for k < n. Channels go in blocks of
// kVectors 32-byte vectors (GCC/clang vector extensions) that stay in registers over all
// taps: one load per multiply-add instead of the load/store of an axpy. The remainder
// (fewer than one vector) is scalar.
template <typename T, int kVectors>
__attribute__((always_inline)) inline void weighted_taps_impl(
    T* __restrict__ out, const T* __restrict__ base, const int64_t* __restrict__ offsets,
    const T* __restrict__ w, int64_t taps, int64_t n) {
  typedef T Vec __attribute__((vector_size(32)));
  constexpr int kLanes = 32 / sizeof(T), kBlock = kVectors * kLanes;
  int64_t k0 = 0;
  for (; k0 + kBlock <= n; k0 += kBlock) {
    Vec acc[kVectors];
    for (int v = 0; v < kVectors; ++v) acc[v] = Vec{};
    for (int64_t t = 0; t < taps; ++t) {
      const T* src = base + offsets[t] + k0;
      const Vec wt = Vec{} + w[t];
      for (int v = 0; v < kVectors; ++v) acc[v] += wt * load_vector<Vec>(src + v * kLanes);
    }
    std::memcpy(out + k0, acc, sizeof(acc));
  }
  for (; k0 < n; ++k0) {
    T acc = T(0);
    for (int64_t t = 0; t < taps; ++t) acc += w[t] * base[offsets[t] + k0];
    out[k0] = acc;
  }
}

// Two horizontally adjacent pixels of a square (diameter x diameter) window at once:
// out0[k] = sum_{i,j} w0[i*d+j] * base[offsets[i*d] + j*stride + k] (offsets: the
// window_offsets of the taps, stride: one pixel) and out1 the same with w1 one position to
// the right. Each loaded input vector serves both pixels (half the
// loads of two weighted_taps calls); kVectors vectors of channels per block.
template <typename T, int kVectors>
__attribute__((always_inline)) inline void weighted_window_pair_impl(
    T* __restrict__ out0, T* __restrict__ out1, const T* __restrict__ base,
    const int64_t* __restrict__ offsets, int64_t stride, const T* __restrict__ w0,
    const T* __restrict__ w1, int64_t diameter, int64_t n) {
  typedef T Vec __attribute__((vector_size(32)));
  constexpr int kLanes = 32 / sizeof(T), kBlock = kVectors * kLanes;
  int64_t k0 = 0;
  for (; k0 + kBlock <= n; k0 += kBlock) {
    Vec acc0[kVectors], acc1[kVectors];
    for (int v = 0; v < kVectors; ++v) acc0[v] = acc1[v] = Vec{};
    for (int64_t i = 0; i < diameter; ++i) {
      const T* row = base + offsets[i * diameter] + k0;
      const T* w0_row = w0 + i * diameter;
      const T* w1_row = w1 + i * diameter;
      {  // position 0: first pixel only
        const Vec a = Vec{} + w0_row[0];
        for (int v = 0; v < kVectors; ++v) acc0[v] += a * load_vector<Vec>(row + v * kLanes);
      }
      for (int64_t j = 1; j < diameter; ++j) {  // shared positions
        const Vec a = Vec{} + w0_row[j], b = Vec{} + w1_row[j - 1];
        for (int v = 0; v < kVectors; ++v) {
          const Vec x = load_vector<Vec>(row + j * stride + v * kLanes);
          acc0[v] += a * x;
          acc1[v] += b * x;
        }
      }
      {  // position d: second pixel only
        const Vec b = Vec{} + w1_row[diameter - 1];
        const T* last = row + diameter * stride;
        for (int v = 0; v < kVectors; ++v) acc1[v] += b * load_vector<Vec>(last + v * kLanes);
      }
    }
    std::memcpy(out0 + k0, acc0, sizeof(acc0));
    std::memcpy(out1 + k0, acc1, sizeof(acc1));
  }
  for (; k0 < n; ++k0) {
    T a0 = T(0), a1 = T(0);
    for (int64_t i = 0; i < diameter; ++i) {
      const T* row = base + offsets[i * diameter] + k0;
      for (int64_t j = 0; j < diameter; ++j) {
        a0 += w0[i * diameter + j] * row[j * stride];
        a1 += w1[i * diameter + j] * row[(j + 1) * stride];
      }
    }
    out0[k0] = a0;
    out1[k0] = a1;
  }
}

// Two outputs over one tap set: out0[k] = sum_t w0[t] * base[offsets[t] + k] and out1 the
// same with w1 (two pixels whose filters cover the same source window): each loaded input
// vector serves both; kVectors vectors of channels per block.
template <typename T, int kVectors>
__attribute__((always_inline)) inline void weighted_taps_pair_impl(
    T* __restrict__ out0, T* __restrict__ out1, const T* __restrict__ base,
    const int64_t* __restrict__ offsets, const T* __restrict__ w0, const T* __restrict__ w1,
    int64_t taps, int64_t n) {
  typedef T Vec __attribute__((vector_size(32)));
  constexpr int kLanes = 32 / sizeof(T), kBlock = kVectors * kLanes;
  int64_t k0 = 0;
  for (; k0 + kBlock <= n; k0 += kBlock) {
    Vec acc0[kVectors], acc1[kVectors];
    for (int v = 0; v < kVectors; ++v) acc0[v] = acc1[v] = Vec{};
    for (int64_t t = 0; t < taps; ++t) {
      const T* src = base + offsets[t] + k0;
      const Vec a = Vec{} + w0[t], b = Vec{} + w1[t];
      for (int v = 0; v < kVectors; ++v) {
        const Vec x = load_vector<Vec>(src + v * kLanes);
        acc0[v] += a * x;
        acc1[v] += b * x;
      }
    }
    std::memcpy(out0 + k0, acc0, sizeof(acc0));
    std::memcpy(out1 + k0, acc1, sizeof(acc1));
  }
  for (; k0 < n; ++k0) {
    T a0 = T(0), a1 = T(0);
    for (int64_t t = 0; t < taps; ++t) {
      a0 += w0[t] * base[offsets[t] + k0];
      a1 += w1[t] * base[offsets[t] + k0];
    }
    out0[k0] = a0;
    out1[k0] = a1;
  }
}

// out[x] = scale * sum_{k < depth} a[k * a_stride + x] * b[k * b_stride + x] for x < n: a
// row of dot products over planar (channels-outermost) data, kVectors vectors of x per block
// kept in registers over k.
template <typename T, int kVectors>
__attribute__((always_inline)) inline void row_dots_impl(
    T* __restrict__ out, const T* __restrict__ a, int64_t a_stride, const T* __restrict__ b,
    int64_t b_stride, int64_t depth, T scale, int64_t n) {
  typedef T Vec __attribute__((vector_size(32)));
  constexpr int kLanes = 32 / sizeof(T), kBlock = kVectors * kLanes;
  int64_t x0 = 0;
  for (; x0 + kBlock <= n; x0 += kBlock) {
    Vec acc[kVectors];
    for (int v = 0; v < kVectors; ++v) acc[v] = Vec{};
    for (int64_t k = 0; k < depth; ++k) {
      const T* ak = a + k * a_stride + x0;
      const T* bk = b + k * b_stride + x0;
      for (int v = 0; v < kVectors; ++v) {
        acc[v] += load_vector<Vec>(ak + v * kLanes) * load_vector<Vec>(bk + v * kLanes);
      }
    }
    for (int v = 0; v < kVectors; ++v) acc[v] *= scale;
    std::memcpy(out + x0, acc, sizeof(acc));
  }
  for (; x0 < n; ++x0) {
    T acc = T(0);
    for (int64_t k = 0; k < depth; ++k) acc += a[k * a_stride + x0] * b[k * b_stride + x0];
    out[x0] = scale * acc;
  }
}

// out[t] = sum_k a[k] * base[offsets[t] + k] for t < taps: one dot product per tap against the
// same vector a, the taps in groups of eight (each vector of a loaded once per group, eight
// accumulators in registers), the remaining taps one by one; 32-byte vectors, then scalars.
template <typename T>
__attribute__((always_inline)) inline void tap_dots_grouped_impl(
    T* __restrict__ out, const T* __restrict__ a, const T* __restrict__ base,
    const int64_t* __restrict__ offsets, int64_t taps, int64_t n) {
  typedef T Vec __attribute__((vector_size(32)));
  constexpr int kLanes = 32 / sizeof(T), kGroup = 8;
  const int64_t full = n / kLanes * kLanes;
  int64_t t0 = 0;
  for (; t0 + kGroup <= taps; t0 += kGroup) {
    const T* b[kGroup];
    for (int q = 0; q < kGroup; ++q) b[q] = base + offsets[t0 + q];
    Vec acc[kGroup];
    for (int q = 0; q < kGroup; ++q) acc[q] = Vec{};
    for (int64_t k = 0; k < full; k += kLanes) {
      const Vec x = load_vector<Vec>(a + k);
      for (int q = 0; q < kGroup; ++q) acc[q] += x * load_vector<Vec>(b[q] + k);
    }
    for (int q = 0; q < kGroup; ++q) {
      T sum = T(0);
      for (int l = 0; l < kLanes; ++l) sum += acc[q][l];
      for (int64_t k = full; k < n; ++k) sum += a[k] * b[q][k];
      out[t0 + q] = sum;
    }
  }
  for (; t0 < taps; ++t0) {
    const T* __restrict__ b = base + offsets[t0];
    Vec acc{};
    for (int64_t k = 0; k < full; k += kLanes) {
      acc += load_vector<Vec>(a + k) * load_vector<Vec>(b + k);
    }
    T sum = T(0);
    for (int l = 0; l < kLanes; ++l) sum += acc[l];
    for (int64_t k = full; k < n; ++k) sum += a[k] * b[k];
    out[t0] = sum;
  }
}

// The vectorised entry points, defined in cpu_helpers.cpp for T = float and double (SIMD
// clones); each signature is written once, here.
// weighted_taps_impl with blocks of eight, then one, 32-byte vectors.
#define MMFEATUP_WEIGHTED_TAPS_SIGNATURE(T)                                               \
  void weighted_taps(T* __restrict__ out, const T* __restrict__ base,                     \
                     const int64_t* __restrict__ offsets, const T* __restrict__ w,         \
                     int64_t taps, int64_t n)
// weighted_window_pair_impl with blocks of four, then one, vectors.
#define MMFEATUP_WEIGHTED_WINDOW_PAIR_SIGNATURE(T)                                        \
  void weighted_window_pair(T* __restrict__ out0, T* __restrict__ out1,                   \
                            const T* __restrict__ base, const int64_t* __restrict__ offsets, \
                            int64_t stride, const T* __restrict__ w0,                     \
                            const T* __restrict__ w1, int64_t diameter, int64_t n)
// weighted_taps_pair_impl with blocks of four, then one, vectors.
#define MMFEATUP_WEIGHTED_TAPS_PAIR_SIGNATURE(T)                                          \
  void weighted_taps_pair(T* __restrict__ out0, T* __restrict__ out1,                     \
                          const T* __restrict__ base, const int64_t* __restrict__ offsets, \
                          const T* __restrict__ w0, const T* __restrict__ w1, int64_t taps, \
                          int64_t n)
// row_dots_impl with blocks of four, then one, vectors.
#define MMFEATUP_ROW_DOTS_SIGNATURE(T)                                                    \
  void row_dots(T* __restrict__ out, const T* __restrict__ a, int64_t a_stride,           \
                const T* __restrict__ b, int64_t b_stride, int64_t depth, T scale, int64_t n)
// tap_dots_grouped_impl.
#define MMFEATUP_TAP_DOTS_SIGNATURE(T)                                                    \
  void tap_dots(T* __restrict__ out, const T* __restrict__ a, const T* __restrict__ base, \
                const int64_t* __restrict__ offsets, int64_t taps, int64_t n)
// y[0:n] += a * x[0:n].
#define MMFEATUP_AXPY_SIGNATURE(T) \
  void axpy(T* __restrict__ y, const T* __restrict__ x, T a, int64_t n)

#define MMFEATUP_DECLARE_VECTOR_HELPERS_(T) \
  MMFEATUP_WEIGHTED_TAPS_SIGNATURE(T);      \
  MMFEATUP_WEIGHTED_WINDOW_PAIR_SIGNATURE(T); \
  MMFEATUP_WEIGHTED_TAPS_PAIR_SIGNATURE(T);   \
  MMFEATUP_ROW_DOTS_SIGNATURE(T);             \
  MMFEATUP_TAP_DOTS_SIGNATURE(T);           \
  MMFEATUP_AXPY_SIGNATURE(T);
MMFEATUP_DECLARE_VECTOR_HELPERS_(float)
MMFEATUP_DECLARE_VECTOR_HELPERS_(double)
#undef MMFEATUP_DECLARE_VECTOR_HELPERS_

// dst[c * stride + x] = src[x * channels + c] for one row: [width, channels] -> [channels, width].
template <typename T, typename S>
inline void transpose_row(T* __restrict__ dst, const S* __restrict__ src, int64_t width,
                          int64_t channels, int64_t stride) {
  for (int64_t c = 0; c < channels; ++c) {
    T* out = dst + c * stride;
    for (int64_t x = 0; x < width; ++x) out[x] = static_cast<T>(src[x * channels + c]);
  }
}

}  // namespace cpu
}  // namespace mmfeatup
