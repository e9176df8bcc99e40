// Launch helpers shared by the CUDA kernels.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

// kThreads, num_blocks, fits_int32 and the overflow-free grid-stride step (host-testable).
#include "grid_stride.h"

// Grid-stride loop over [0, n) with index type index_t: 32-bit indexing is safe for every
// n < 2^31 (the step never overflows, see grid_stride_next).
#define MMFEATUP_CUDA_LOOP(index, n, index_t)                                              \
  MMFEATUP_GRID_STRIDE_LOOP(index, static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x, \
                            static_cast<index_t>(blockDim.x) * gridDim.x, n, index_t)
