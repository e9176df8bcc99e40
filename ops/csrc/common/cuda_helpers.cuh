// Launch helpers shared by the CUDA kernels.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <climits>
#include <cstdint>

namespace mmfeatup {
namespace cuda {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items (capped; the loop covers the rest).
inline unsigned int num_blocks(int64_t n) {
  return static_cast<unsigned int>(
      std::min<int64_t>((n + kThreads - 1) / kThreads, int64_t(1) << 20));
}

// Whether every offset into these tensors fits a 32-bit int (else use 64-bit indexing).
inline bool fits_int32(std::initializer_list<int64_t> numels) {
  for (int64_t n : numels) {
    if (n >= static_cast<int64_t>(INT_MAX)) return false;
  }
  return true;
}

// Grid-stride loop over [0, n) with index type index_t.
#define MMFEATUP_CUDA_LOOP(index, n, index_t)                                              \
  for (index_t index = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;        \
       index < (n); index += static_cast<index_t>(blockDim.x) * gridDim.x)

}  // namespace cuda
}  // namespace mmfeatup
