// Launch helpers shared by the CUDA kernels.
#pragma once

#include <ATen/ATen.h>
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <cstdint>

// kThreads, num_blocks, fits_int32 and the overflow-free grid-stride step (host-testable).
#include "grid_stride.h"

// Grid-stride loop over [0, n) with index type index_t: 32-bit indexing is safe for every
// n < 2^31 (the step never overflows, see grid_stride_next).
#define MMFEATUP_CUDA_LOOP(index, n, index_t)                                              \
  MMFEATUP_GRID_STRIDE_LOOP(index, static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x, \
                            static_cast<index_t>(blockDim.x) * gridDim.x, n, index_t)

// Runs the generic lambda body(index_tag) with scalar_t (float16/bfloat16/float32/float64)
// and acc_t (its accumulate type) defined, and an index tag of type int when every tensor
// fits 32-bit offsets (`small`, from cuda::fits_int32), else int64_t.
#define MMFEATUP_DISPATCH_CUDA(dtype, small, name, ...)                                  \
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, name, [&] {           \
    using acc_t = at::acc_type<scalar_t, true>;                                          \
    auto body_ = __VA_ARGS__;                                                            \
    if (small) {                                                                         \
      body_(int{});                                                 \
    } else {                                                                             \
      body_(int64_t{});                                             \
    }                                                                                    \
  })

namespace mmfeatup {
namespace cuda {

// Launches kernel over n items (grid-stride) on the current stream and checks the launch.
template <typename Kernel, typename... Args>
void launch(Kernel kernel, int64_t n, Args... args) {
  if (n == 0) return;
  kernel<<<num_blocks(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(args...);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace mmfeatup
