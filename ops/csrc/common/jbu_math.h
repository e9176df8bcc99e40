// Shared kernel math of the mmfeatup JBU ops, usable from C++ and CUDA.
//
// Conventions (docs/design.md, sections 1-2):
//   radius r, diameter d = 2r+1, taps T = d*d, tap t = (i, j) row-major with
//   t = i*d + j, i, j in [0, d); the tap's offset is (i - r, j - r).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "host_device.h"

namespace mmfeatup {

// Index of PyTorch's 'reflect' padding (edge not repeated) along an axis of
// length n. Valid for -n < e < 2n - 1, which radius < n guarantees.
MMFEATUP_HOST_DEVICE int64_t reflect_index(int64_t e, int64_t n) {
  return e < 0 ? -e : (e >= n ? 2 * (n - 1) - e : e);
}

// Gaussian spatial weight of tap offset (di, dj) on the linspace(-1, 1, d)
// grid: exp(-((di/r)^2 + (dj/r)^2) / (2 sigma^2)).
template <typename T>
MMFEATUP_HOST_DEVICE T spatial_weight(int64_t di, int64_t dj, int64_t radius, T sigma) {
  const T y = static_cast<T>(di) / static_cast<T>(radius);
  const T x = static_cast<T>(dj) / static_cast<T>(radius);
  return exp(-(x * x + y * y) / (T(2) * sigma * sigma));
}

// The JBU normalisation floor: W = A / max(sum_t A_t, kJbuEps).
constexpr double kJbuEps = 1e-7;

// One step of the streaming ("online") softmax normaliser over logits z_1..z_n:
// keeps running_max = max z and running_sum = sum exp(z - running_max) without a
// second pass or a buffer. Start from running_max = -inf, running_sum = 0.
// A logit of -inf adds exp(-inf) = 0 and is skipped: computing it as exp(z - running_max)
// would give exp(-inf - -inf) = NaN while running_max is still -inf (e.g. when the first
// taps' logits overflow to -inf), poisoning a pixel whose softmax is finite (as the CPU
// kernels and torch.softmax compute it). All logits -inf: running_sum stays 0 and the
// pixel is NaN, as in torch.softmax. NaN and +inf logits propagate as in torch.softmax.
template <typename T>
MMFEATUP_HOST_DEVICE void online_softmax_push(T z, T& running_max, T& running_sum) {
  if (z > running_max) {
    running_sum = running_sum * exp(running_max - z) + T(1);
    running_max = z;
  } else if (z != -std::numeric_limits<T>::infinity()) {
    running_sum += exp(z - running_max);
  }
}

// Positions e (unpadded coordinates, -r <= e < n + r) that reflect onto the real
// index q: q itself, -q (top/left mirror) and 2(n-1)-q (bottom/right mirror).
// Writes at most 3 entries to out and returns how many.
MMFEATUP_HOST_DEVICE int reflect_preimages(int64_t q, int64_t n, int64_t radius, int64_t* out) {
  int count = 0;
  out[count++] = q;
  if (q >= 1 && q <= radius) out[count++] = -q;
  if (q <= n - 2 && q >= n - 1 - radius) out[count++] = 2 * (n - 1) - q;
  return count;
}

}  // namespace mmfeatup
