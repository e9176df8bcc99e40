// Small contiguous-loop helpers for the CPU kernels (auto-vectorised at -O3).
#pragma once

#include <algorithm>
#include <cstdint>

namespace mmfeatup {
namespace cpu {

// Rows per at::parallel_for task so that each task has at least kGrainSize multiply-adds
// (ATen's GRAIN_SIZE): small problems stay on one thread (no OpenMP overhead), large ones
// use every thread.
constexpr int64_t kGrainSize = 32768;
inline int64_t row_grain(int64_t work_per_row) {
  return std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, work_per_row));
}

// sum_k a[k] * b[k] with 8 independent partial sums (vectorisable without -ffast-math).
template <typename T>
inline T dot_impl(const T* __restrict__ a, const T* __restrict__ b, int64_t n) {
  T partial[8] = {T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0)};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    for (int u = 0; u < 8; ++u) partial[u] += a[k + u] * b[k + u];
  }
  T sum = T(0);
  for (; k < n; ++k) sum += a[k] * b[k];
  for (int u = 0; u < 8; ++u) sum += partial[u];
  return sum;
}

// y[0:n] += a * x[0:n] and sum_k a[k] * b[k]: defined in cpu_helpers.cpp (SIMD clones).
void axpy(float* __restrict__ y, const float* __restrict__ x, float a, int64_t n);
void axpy(double* __restrict__ y, const double* __restrict__ x, double a, int64_t n);
float dot(const float* __restrict__ a, const float* __restrict__ b, int64_t n);
double dot(const double* __restrict__ a, const double* __restrict__ b, int64_t n);

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
