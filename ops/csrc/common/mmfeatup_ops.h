// Declarations shared by the schema/dispatch files, the CPU and the CUDA kernels.
#pragma once

#include <ATen/ATen.h>

#include <tuple>

namespace mmfeatup {

using at::Tensor;

// ---- validation (ops/csrc/pytorch/<op>.cpp) ----
void check_adaptive_conv_inputs(const Tensor& input, const Tensor& weights, const char* op);
void check_range_kernel_inputs(const Tensor& keys, const Tensor& temperature, int64_t radius,
                               const char* op);
void check_same_device_dtype(const Tensor& reference, const char* reference_name,
                             const Tensor& other, const char* other_name, const char* op);
void check_shape_as(const Tensor& tensor, at::IntArrayRef shape, const char* name,
                    const char* op);

// ---- device-generic entry points (validate, dispatch on device; CUDA inputs are made
// contiguous, CPU inputs of the [B, C, H, W] feature/key tensors may have any layout) ----
Tensor adaptive_conv_forward(const Tensor& input, const Tensor& weights);
std::tuple<Tensor, Tensor> adaptive_conv_backward(const Tensor& grad_output, const Tensor& input,
                                                  const Tensor& weights);
Tensor range_kernel_forward(const Tensor& keys, const Tensor& temperature, int64_t radius);
std::tuple<Tensor, Tensor> range_kernel_backward(const Tensor& grad_output, const Tensor& output,
                                                 const Tensor& keys, const Tensor& temperature,
                                                 int64_t radius);
Tensor jbu_upsample_forward(const Tensor& source_padded, const Tensor& keys,
                            const Tensor& temperature, const Tensor& sigma, int64_t radius);

// ---- CPU kernels (ops/csrc/pytorch/cpu); inputs validated. They read [B, C, H, W] features
// and keys channels-innermost through channels_innermost (any input layout), the other
// tensors contiguous. ----
// [B, C, H, W] -> a contiguous [B, H, W, C] tensor: no copy when t is channels-last already.
inline Tensor channels_innermost(const Tensor& t) { return t.permute({0, 2, 3, 1}).contiguous(); }

Tensor adaptive_conv_forward_cpu(const Tensor& input, const Tensor& weights);
std::tuple<Tensor, Tensor> adaptive_conv_backward_cpu(const Tensor& grad_output,
                                                      const Tensor& input, const Tensor& weights);
Tensor range_kernel_forward_cpu(const Tensor& keys, const Tensor& temperature, int64_t radius);
std::tuple<Tensor, Tensor> range_kernel_backward_cpu(const Tensor& grad_output,
                                                     const Tensor& output, const Tensor& keys,
                                                     const Tensor& temperature, int64_t radius);
Tensor jbu_upsample_forward_cpu(const Tensor& source_padded, const Tensor& keys,
                                const Tensor& temperature, const Tensor& sigma, int64_t radius);

#ifdef MMFEATUP_WITH_CUDA
// ---- CUDA kernels (ops/csrc/pytorch/cuda); inputs validated and contiguous ----
Tensor adaptive_conv_forward_cuda(const Tensor& input, const Tensor& weights);
std::tuple<Tensor, Tensor> adaptive_conv_backward_cuda(const Tensor& grad_output,
                                                       const Tensor& input,
                                                       const Tensor& weights);
Tensor range_kernel_forward_cuda(const Tensor& keys, const Tensor& temperature, int64_t radius);
std::tuple<Tensor, Tensor> range_kernel_backward_cuda(const Tensor& grad_output,
                                                      const Tensor& output, const Tensor& keys,
                                                      const Tensor& temperature, int64_t radius);
Tensor jbu_upsample_forward_cuda(const Tensor& source_padded, const Tensor& keys,
                                 const Tensor& temperature, const Tensor& sigma, int64_t radius);
// adaptive_conv forward with weights in the accumulate type (float32, or float64 for
// float64 input) for any input dtype (used by the fused JBU).
Tensor adaptive_conv_forward_acc_weights_cuda(const Tensor& input, const Tensor& weights);
#endif

}  // namespace mmfeatup
