// The range-kernel logits of one pixel, shared by the range_kernel and jbu_upsample CPU
// kernels: tau * <K[p], K[reflect(p + offset_t)]> for every tap t, keys channels-innermost.
#pragma once

#include <cstdint>
#include <limits>

#include "cpu_helpers.h"
#include "jbu_math.h"

namespace mmfeatup {
namespace cpu {

// Writes logits[t] for the pixel (y, x) of keys_b [H, W, D]; offsets is scratch of size T.
// Returns the largest logit.
template <typename T>
inline T pixel_logits(const T* keys_b, int64_t y, int64_t x, int64_t height, int64_t width,
                      int64_t depth, int64_t radius, T tau, T* logits, int64_t* offsets) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter;
  for (int64_t i = 0; i < diameter; ++i) {
    const int64_t ry = reflect_index(y + i - radius, height);
    for (int64_t j = 0; j < diameter; ++j) {
      offsets[i * diameter + j] = (ry * width + reflect_index(x + j - radius, width)) * depth;
    }
  }
  tap_dots(logits, keys_b + (y * width + x) * depth, keys_b, offsets, taps, depth);
  T max_logit = -std::numeric_limits<T>::infinity();
  for (int64_t t = 0; t < taps; ++t) {
    logits[t] *= tau;
    max_logit = logits[t] > max_logit ? logits[t] : max_logit;
  }
  return max_logit;
}

}  // namespace cpu
}  // namespace mmfeatup
