// MMFEATUP_HOST_DEVICE: a function usable from host C++ and from CUDA device code, the marker
// of the kernel arithmetic shared by the CPU and CUDA kernels (and the host-compiled tests).
#pragma once

#include <cmath>

#ifdef __CUDACC__
#define MMFEATUP_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define MMFEATUP_HOST_DEVICE inline
#endif

namespace mmfeatup {

// exp for host and device code: std::exp on the host (float stays float: the unqualified
// exp of <cmath> would promote a float to double), CUDA's overloads on the device.
template <typename T>
MMFEATUP_HOST_DEVICE T exp_of(T x) {
#ifdef __CUDA_ARCH__
  return exp(x);
#else
  return std::exp(x);
#endif
}

// floor for host and device code (float stays float, as exp_of).
template <typename T>
MMFEATUP_HOST_DEVICE T floor_of(T x) {
#ifdef __CUDA_ARCH__
  return floor(x);
#else
  return std::floor(x);
#endif
}

}  // namespace mmfeatup
