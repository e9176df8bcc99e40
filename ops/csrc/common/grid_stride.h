// Grid-stride loop arithmetic of the CUDA kernels, in plain C++ (no ATen, no CUDA headers)
// so that the host can compile and unit-test it (tests/test_ops/test_kernel_math_host.py
// builds a small program from this header with the system C++ compiler).
//
// The loop of a thread visits start, start + stride, ... while < n. Stepping with
// `index += stride` overflows index_t once index + stride > max(index_t): with 32-bit
// indices, n up to 2^31 - 2 and stride up to kThreads * kMaxBlocks = 2^28 that happens for
// every n > 2^31 - 2^28 (the index wraps negative, the loop reads/writes out of bounds and
// never ends). grid_stride_next never forms a value above n, so the loop is safe for every
// n representable in index_t, 32-bit indexing included.
#pragma once

#include <climits>
#include <cstdint>
#include <initializer_list>

#include "host_device.h"

namespace mmfeatup {
namespace cuda {

// The coordinates of the flat index of a contiguous [B, C, H, W] tensor (one thread per element).
template <typename index_t>
struct Nchw {
  index_t b, c, y, x;
};

template <typename index_t>
MMFEATUP_HOST_DEVICE Nchw<index_t> unravel_nchw(index_t index, index_t channels, index_t height,
                                                index_t width) {
  const index_t x = index % width;
  index_t rest = index / width;
  const index_t y = rest % height;
  rest /= height;
  return {rest / channels, rest % channels, y, x};
}

// Threads per block and the cap on the blocks of one launch (the loop covers the rest).
constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = int64_t(1) << 20;

// Blocks for a grid-stride loop over n items.
inline unsigned int num_blocks(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

// Whether every offset into tensors of these sizes fits a 32-bit int (else use 64-bit
// indexing). The grid-stride loop needs no headroom above n (see grid_stride_next).
inline bool fits_int32(std::initializer_list<int64_t> numels) {
  for (int64_t n : numels) {
    if (n >= static_cast<int64_t>(INT_MAX)) return false;
  }
  return true;
}

// The index after `index` (0 <= index < n) in a grid-stride loop over [0, n) with step
// stride > 0, or n when the loop is done. Computes n - index (> 0) instead of
// index + stride, so no intermediate value exceeds n: no overflow for any n of index_t.
template <typename index_t>
MMFEATUP_HOST_DEVICE index_t grid_stride_next(index_t index, index_t stride, index_t n) {
  return n - index > stride ? static_cast<index_t>(index + stride) : n;
}

}  // namespace cuda
}  // namespace mmfeatup

// Grid-stride loop over [0, n) with index type index_t for a thread that starts at `start`
// and steps by `stride` (both < 2^31 and >= 0 / > 0). Host-usable: the CUDA kernels use it
// through MMFEATUP_CUDA_LOOP (cuda_helpers.cuh), the host test with emulated threads.
#define MMFEATUP_GRID_STRIDE_LOOP(index, start, stride, n, index_t)                         \
  for (index_t index = static_cast<index_t>(start), index##_stride_ =                       \
                                                        static_cast<index_t>(stride);       \
       index < (n); index = ::mmfeatup::cuda::grid_stride_next<index_t>(                    \
                        index, index##_stride_, static_cast<index_t>(n)))
