// The device kernels of the building-block ops adaptive_conv and range_kernel, which their op
// files register and the jbu_upsample kernels build on, declared once for both devices
// (definitions: pytorch/cpu/<op>_cpu.cpp and pytorch/cuda/<op>_cuda.cu). Inputs are validated
// by the caller (any layout; temperature 0-d or 1-element).
#pragma once

#include <ATen/ATen.h>

#include <tuple>

#define MMFEATUP_DECLARE_REUSED_KERNELS_(SUFFIX)                                              \
  at::Tensor adaptive_conv_##SUFFIX(const at::Tensor& input, const at::Tensor& weights);      \
  std::tuple<at::Tensor, at::Tensor> adaptive_conv_backward_##SUFFIX(                         \
      const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weights);     \
  at::Tensor range_kernel_##SUFFIX(const at::Tensor& keys, const at::Tensor& temperature,     \
                                   int64_t radius);                                           \
  std::tuple<at::Tensor, at::Tensor> range_kernel_backward_##SUFFIX(                          \
      const at::Tensor& grad_output, const at::Tensor& output, const at::Tensor& keys,        \
      const at::Tensor& temperature, int64_t radius);

namespace mmfeatup {

MMFEATUP_DECLARE_REUSED_KERNELS_(cpu)
MMFEATUP_DECLARE_REUSED_KERNELS_(cuda)

// The forward with weights kept in the accumulate type (float32 for float16/bfloat16 input).
at::Tensor adaptive_conv_acc_weights_cuda(const at::Tensor& input, const at::Tensor& weights);

}  // namespace mmfeatup

#undef MMFEATUP_DECLARE_REUSED_KERNELS_
