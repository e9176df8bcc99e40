// Small contiguous-loop helpers for the CPU kernels (auto-vectorised at -O3).
#pragma once

#include <cstdint>

namespace mmfeatup {
namespace cpu {

// y[0:n] += a * x[0:n]
template <typename T>
inline void axpy(T* __restrict__ y, const T* __restrict__ x, T a, int64_t n) {
  for (int64_t k = 0; k < n; ++k) y[k] += a * x[k];
}

// sum_k a[k] * b[k] with 8 independent partial sums (vectorisable without -ffast-math).
template <typename T>
inline T dot(const T* __restrict__ a, const T* __restrict__ b, int64_t n) {
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
