// mmfeatup::bicubic_adaptive_conv and its backward: schema, checks, per-device registration,
// autograd. One JBU stage's resize and filter without the resized map:
//   U = reflect_pad(upsample_bicubic2d(source, (H, W), align_corners=False), r)
//   out[b,c,y,x] = sum_t weights[b,t,y,x] * U[b,c,y+i_t,x+j_t]      (= adaptive_conv(U, weights))
// Forward kernels: cpu/bicubic_adaptive_conv_cpu.cpp, cuda/bicubic_adaptive_conv_cuda.cu;
// math: bicubic_adaptive_conv_math.h. Backward: on CPU a fused kernel (no U; the CPU file), on
// CUDA and for a downscaling CPU call a composite: U recomputed with ATen, the device's
// adaptive_conv_backward kernel, then the adjoints of the padding and the resize (ATen).
// Higher orders: the same composite through differentiable ops.
#include <torch/autograd.h>
#include <torch/library.h>

#include "op_common.h"
#include "register_op.h"
#include "reused_kernels.h"

namespace mmfeatup {

Tensor bicubic_adaptive_conv_cpu(const Tensor& source, const Tensor& weights);
bool bicubic_adaptive_conv_cpu_fuses(const Tensor& source, const Tensor& weights);
std::tuple<Tensor, Tensor> bicubic_adaptive_conv_backward_cpu_fused(const Tensor& grad,
                                                                    const Tensor& source,
                                                                    const Tensor& weights);
#ifdef MMFEATUP_WITH_CUDA
Tensor bicubic_adaptive_conv_cuda(const Tensor& source, const Tensor& weights);
#endif

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using Forward = Tensor(const Tensor&, const Tensor&);
using Backward = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&);

int64_t check_inputs(const Tensor& source, const Tensor& weights, const char* op) {
  check_4d_nonempty(source, "source", "[B,C,h,w]", op);
  check_4d_nonempty(weights, "weights", "[B,T,H,W]", op);
  check_same_device_dtype(source, "source", weights, "weights", op);
  const int64_t radius = radius_of_taps(weights.size(1), op);
  TORCH_CHECK_VALUE(source.size(0) == weights.size(0), op, ": batch size mismatch: source has B=",
                    source.size(0), ", weights has B=", weights.size(0));
  TORCH_CHECK_VALUE(radius < weights.size(2) && radius < weights.size(3), op,
                    ": the weights' radius r=", radius, " (T=", weights.size(1),
                    ") must be smaller than their height and width for reflect padding, got (H, W)"
                    " = (", weights.size(2), ", ", weights.size(3), ")");
  return radius;
}

template <Forward* kernel>
Tensor forward_checked(const Tensor& source, const Tensor& weights) {
  check_inputs(source, weights, "bicubic_adaptive_conv");
  return kernel(source, weights);
}

void check_backward(const Tensor& grad_output, const Tensor& source, const Tensor& weights) {
  const char* op = "bicubic_adaptive_conv_backward";
  check_inputs(source, weights, op);
  check_same_device_dtype(source, "source", grad_output, "grad_output", op);
  check_shape_as(grad_output, {source.size(0), source.size(1), weights.size(2), weights.size(3)},
                 "grad_output", op);
}

// The backward through `conv_backward` (a device kernel below autograd, or the differentiable
// op): U = pad(resize(source)), (dU, d weights) = conv_backward(g, U, weights),
// d source = resize^T(pad^T(dU)).
template <typename ConvBackward>
std::tuple<Tensor, Tensor> backward_composite(const Tensor& grad, const Tensor& source,
                                              const Tensor& weights, ConvBackward conv_backward) {
  const int64_t radius = radius_of_taps(weights.size(1), "bicubic_adaptive_conv_backward");
  const std::vector<int64_t> size{weights.size(2), weights.size(3)};
  const std::vector<int64_t> pad(4, radius);
  const Tensor resized = at::upsample_bicubic2d(source, size, /*align_corners=*/false);
  const Tensor padded = at::reflection_pad2d(resized, pad);
  auto [grad_padded, grad_weights] = conv_backward(grad, padded, weights);
  const Tensor grad_resized = at::reflection_pad2d_backward(grad_padded, resized, pad);
  const Tensor grad_source = at::upsample_bicubic2d_backward(grad_resized, size, source.sizes(),
                                                             /*align_corners=*/false);
  return std::make_tuple(grad_source, grad_weights);
}

template <Backward* conv_kernel>
std::tuple<Tensor, Tensor> backward_kernel(const Tensor& grad, const Tensor& source,
                                           const Tensor& weights) {
  return backward_composite(grad, source, weights, conv_kernel);
}

template <Backward* kernel>
std::tuple<Tensor, Tensor> backward_checked(const Tensor& grad_output, const Tensor& source,
                                            const Tensor& weights) {
  check_backward(grad_output, source, weights);
  return kernel(grad_output, source, weights);
}

Tensor call_forward(const Tensor& source, const Tensor& weights) {
  static const auto op = op_handle<Forward>("mmfeatup::bicubic_adaptive_conv");
  return op.call(source, weights);
}

std::tuple<Tensor, Tensor> call_backward(const Tensor& grad, const Tensor& source,
                                         const Tensor& weights) {
  static const auto op = op_handle<Backward>("mmfeatup::bicubic_adaptive_conv_backward");
  return op.call(grad, source, weights);
}

class BicubicAdaptiveConv : public torch::autograd::Function<BicubicAdaptiveConv> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& source, const Tensor& weights) {
    ctx->save_for_backward({source, weights});
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_forward(source, weights);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto [grad_source, grad_weights] = call_backward(grads[0], saved[0], saved[1]);
    return {grad_source, grad_weights};
  }
};

// Autograd of the backward: the device kernels when no graph is needed, else the same
// composite through the differentiable adaptive_conv_backward and ATen ops.
std::tuple<Tensor, Tensor> backward_autograd(const Tensor& grad, const Tensor& source,
                                             const Tensor& weights) {
  if (!any_requires_grad({grad, source, weights})) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_backward(grad, source, weights);
  }
  check_backward(grad, source, weights);
  return backward_composite(grad, source, weights, call_adaptive_conv_backward);
}

Tensor forward_autograd(const Tensor& source, const Tensor& weights) {
  return BicubicAdaptiveConv::apply(source, weights);
}

}  // namespace

// The backward kernels: on CPU the fused kernel where the forward fuses too (no axis
// downscales), else, and on CUDA, the composite over the device's adaptive_conv backward.
std::tuple<Tensor, Tensor> bicubic_adaptive_conv_backward_cpu(const Tensor& grad,
                                                              const Tensor& source,
                                                              const Tensor& weights) {
  if (bicubic_adaptive_conv_cpu_fuses(source, weights)) {
    return bicubic_adaptive_conv_backward_cpu_fused(grad, source, weights);
  }
  return backward_kernel<adaptive_conv_backward_cpu>(grad, source, weights);
}
#ifdef MMFEATUP_WITH_CUDA
std::tuple<Tensor, Tensor> bicubic_adaptive_conv_backward_cuda(const Tensor& grad,
                                                               const Tensor& source,
                                                               const Tensor& weights) {
  return backward_kernel<adaptive_conv_backward_cuda>(grad, source, weights);
}
#endif

MMFEATUP_REGISTER_OP(bicubic_adaptive_conv,
                     "bicubic_adaptive_conv(Tensor source, Tensor weights) -> Tensor",
                     "bicubic_adaptive_conv_backward(Tensor grad_output, Tensor source, "
                     "Tensor weights) -> (Tensor, Tensor)")

}  // namespace mmfeatup
