// What the per-op files (ops/csrc/pytorch/<op>.cpp) share: argument checks with clear errors
// (TORCH_CHECK_VALUE -> ValueError naming the argument), typed calls through the dispatcher,
// and the differentiable ATen composites used for higher-order gradients.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <tuple>
#include <vector>

namespace mmfeatup {

using at::Tensor;

// ---- argument checks (op_common.cpp) ----
void check_same_device_dtype(const Tensor& reference, const char* reference_name,
                             const Tensor& other, const char* other_name, const char* op);
void check_shape_as(const Tensor& tensor, at::IntArrayRef shape, const char* name,
                    const char* op);
// 4-D, non-empty, float32/float64 (CPU) or also float16/bfloat16 (CUDA).
void check_4d_nonempty(const Tensor& tensor, const char* name, const char* layout,
                       const char* op);
// A 0-d or 1-element tensor on the device and with the dtype of `reference`.
void check_scalar_like(const Tensor& tensor, const char* name, const Tensor& reference,
                       const char* reference_name, const char* op);
// Radius r of T = (2r+1)^2 taps (ValueError otherwise).
int64_t radius_of_taps(int64_t taps, const char* op);
// keys [B,D,H,W], temperature, 1 <= radius < min(H, W).
void check_range_kernel_inputs(const Tensor& keys, const Tensor& temperature, int64_t radius,
                               const char* op);

// ---- the op `mmfeatup::<name>` called through the dispatcher (autograd included unless a
// guard excludes it) ----
template <typename Signature>
c10::TypedOperatorHandle<Signature> op_handle(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

// mmfeatup::adaptive_conv_backward through the dispatcher (autograd included): (grad_input,
// grad_weights). Called by adaptive_conv's autograd and by bicubic_adaptive_conv's backward.
std::tuple<Tensor, Tensor> call_adaptive_conv_backward(const Tensor& grad, const Tensor& input,
                                                       const Tensor& weights);

// ---- differentiable ATen composites (op_common.cpp) ----
// Unscaled range logits L [B, T, H, W] of keys [B, D, H, W] (reflect padding).
Tensor range_logits_composite(const Tensor& keys, int64_t radius);
// adaptive_conv as shifted products.
Tensor adaptive_conv_composite(const Tensor& input, const Tensor& weights);
// Whether an autograd kernel must record a graph (grad mode on, some input requires grad).
bool any_requires_grad(std::initializer_list<Tensor> tensors);
// `tensor` itself if it requires grad, else a detached leaf that does (for autograd::grad).
Tensor grad_leaf(const Tensor& tensor);

}  // namespace mmfeatup
