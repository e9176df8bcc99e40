// MMFEATUP_HOST_DEVICE: a function usable from host C++ and from CUDA device code, the marker
// of the kernel arithmetic shared by the CPU and CUDA kernels (and the host-compiled tests).
#pragma once

#ifdef __CUDACC__
#define MMFEATUP_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define MMFEATUP_HOST_DEVICE inline
#endif
