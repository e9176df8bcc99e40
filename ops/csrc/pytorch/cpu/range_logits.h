// The range-kernel logits of one pixel, shared by the range_kernel and jbu_upsample CPU
// kernels: tau * <K[p], K[reflect(p + offset_t)]> for every tap t, keys channels-innermost.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "cpu_helpers.h"
#include "range_kernel_math.h"

namespace mmfeatup {
namespace cpu {

// Writes logits[t] for the pixel (y, x) of keys_b [H, W, D]; offsets is scratch of size T.
// Per-task scratch of pixel_logits for T taps: the logits and the neighbours' offsets.
template <typename T>
struct LogitScratch {
  explicit LogitScratch(int64_t taps) : logits(taps), offsets(taps) {}
  std::vector<T> logits;
  std::vector<int64_t> offsets;
};

template <typename T>
inline void pixel_logits(const T* keys_b, int64_t y, int64_t x, int64_t height, int64_t width,
                      int64_t depth, int64_t radius, T tau, T* logits, int64_t* offsets) {
  const int64_t taps = (2 * radius + 1) * (2 * radius + 1);
  for_each_window_tap<int64_t>(y, x, height, width, static_cast<int>(radius),
                               [&](int t, int64_t q) { offsets[t] = q * depth; });
  tap_dots(logits, keys_b + (y * width + x) * depth, keys_b, offsets, taps, depth);
  for (int64_t t = 0; t < taps; ++t) logits[t] *= tau;
}

}  // namespace cpu
}  // namespace mmfeatup
