// Shared arithmetic of mmfeatup::adaptive_conv, for the CPU loops and the CUDA kernels.
//
//   out[b,c,y,x]        = sum_t w[b,t,y,x] * in[b,c,y+i,x+j]          (t = i*d + j)
//   d in[b,c,Y,X]       = sum_{t: (Y-i, X-j) valid} w[b,t,Y-i,X-j] * g[b,c,Y-i,X-j]
//   d w[b,t,y,x]        = sum_c g[b,c,y,x] * in[b,c,y+i,x+j]
// The arithmetic is a sum of products (the CPU runs it through SIMD helpers, the CUDA
// kernels one thread per output); what both share is the window geometry below.
#pragma once

#include <cstdint>

#include "host_device.h"

namespace mmfeatup {

// Visits the output pixels (y, x) whose tap t reads the padded input pixel (py, px):
// f(t, y, x) for every t = i*d + j with y = py - i in [0, height), x = px - j in [0, width).
// The input gradient is this gather (deterministic, no atomics).
template <typename index_t, typename F>
MMFEATUP_HOST_DEVICE void for_each_reader(index_t py, index_t px, index_t height, index_t width,
                                          int diameter, F&& f) {
  for (int i = 0; i < diameter; ++i) {
    const index_t y = py - i;
    if (y < 0 || y >= height) continue;
    for (int j = 0; j < diameter; ++j) {
      const index_t x = px - j;
      if (x < 0 || x >= width) continue;
      f(i * diameter + j, y, x);
    }
  }
}

}  // namespace mmfeatup
