// One registration for every op `mmfeatup::<OP>` and its backward `<OP>_backward`: the schemas,
// the CPU and (when built) CUDA kernels behind the argument checks, and the Autograd kernels.
//
// The op's file (ops/csrc/pytorch/<OP>.cpp) provides, in namespace mmfeatup:
//   <OP>_cpu, <OP>_backward_cpu (and <OP>_cuda, <OP>_backward_cuda under MMFEATUP_WITH_CUDA),
//   forward_checked<kernel>, backward_checked<kernel>   (checks, then the device kernel),
//   forward_autograd, backward_autograd                 (the Autograd dispatch key).
#pragma once

#include <torch/library.h>

#define MMFEATUP_IMPL_KERNELS_(OP, KEY, SUFFIX)                          \
  TORCH_LIBRARY_IMPL(mmfeatup, KEY, m) {                                 \
    m.impl(#OP, &forward_checked<OP##_##SUFFIX>);                        \
    m.impl(#OP "_backward", &backward_checked<OP##_backward_##SUFFIX>);  \
  }

#ifdef MMFEATUP_WITH_CUDA
#define MMFEATUP_IMPL_CUDA_KERNELS_(OP) MMFEATUP_IMPL_KERNELS_(OP, CUDA, cuda)
#else
#define MMFEATUP_IMPL_CUDA_KERNELS_(OP)
#endif

#define MMFEATUP_REGISTER_OP(OP, FORWARD_SCHEMA, BACKWARD_SCHEMA)        \
  TORCH_LIBRARY_FRAGMENT(mmfeatup, m) {                                  \
    m.def(FORWARD_SCHEMA, {at::Tag::pt2_compliant_tag});                 \
    m.def(BACKWARD_SCHEMA, {at::Tag::pt2_compliant_tag});                \
  }                                                                      \
  MMFEATUP_IMPL_KERNELS_(OP, CPU, cpu)                                   \
  MMFEATUP_IMPL_CUDA_KERNELS_(OP)                                        \
  TORCH_LIBRARY_IMPL(mmfeatup, Autograd, m) {                            \
    m.impl(#OP, &forward_autograd);                                      \
    m.impl(#OP "_backward", &backward_autograd);                         \
  }
