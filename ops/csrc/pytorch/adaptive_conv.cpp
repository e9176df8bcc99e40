// mmfeatup::adaptive_conv and its backward: schema, checks, per-device registration, autograd.
//   out[b,c,y,x] = sum_t weights[b,t,y,x] * input[b,c,y+i_t,x+j_t]
// Kernels: cpu/adaptive_conv_cpu.cpp, cuda/adaptive_conv_cuda.cu; math: adaptive_conv_math.h.
// The op is bilinear in (input, weights), so the backward of its backward is written with
// the two ops themselves (any order of derivative).
#include <torch/autograd.h>
#include <torch/library.h>

#include "op_common.h"
#include "register_op.h"
#include "reused_kernels.h"

namespace mmfeatup {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using Forward = Tensor(const Tensor&, const Tensor&);
using Backward = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&);

void check_inputs(const Tensor& input, const Tensor& weights, const char* op) {
  check_4d_nonempty(input, "input", "[B,C,H+2r,W+2r]", op);
  TORCH_CHECK_VALUE(weights.dim() == 4, op,
                    ": weights must be 4-D [B,T,H,W] (the Python API converts the authors' "
                    "[B,H,W,d,d] layout), got shape ",
                    weights.sizes());
  check_4d_nonempty(weights, "weights", "[B,T,H,W]", op);
  check_same_device_dtype(input, "input", weights, "weights", op);
  const int64_t radius = radius_of_taps(weights.size(1), op);
  TORCH_CHECK_VALUE(input.size(0) == weights.size(0), op, ": batch size mismatch: input has B=",
                    input.size(0), ", weights has B=", weights.size(0));
  TORCH_CHECK_VALUE(
      input.size(2) == weights.size(2) + 2 * radius && input.size(3) == weights.size(3) + 2 * radius,
      op, ": input spatial size (", input.size(2), ", ", input.size(3),
      ") must be the weights' (H+2r, W+2r) = (", weights.size(2) + 2 * radius, ", ",
      weights.size(3) + 2 * radius, ") for radius r=", radius, " (T=", weights.size(1), ")");
}

template <Forward* kernel>
Tensor forward_checked(const Tensor& input, const Tensor& weights) {
  check_inputs(input, weights, "adaptive_conv");
  return kernel(input, weights);
}

template <Backward* kernel>
std::tuple<Tensor, Tensor> backward_checked(const Tensor& grad_output, const Tensor& input,
                                            const Tensor& weights) {
  const char* op = "adaptive_conv_backward";
  check_inputs(input, weights, op);
  check_same_device_dtype(input, "input", grad_output, "grad_output", op);
  check_shape_as(grad_output, {input.size(0), input.size(1), weights.size(2), weights.size(3)},
                 "grad_output", op);
  return kernel(grad_output, input, weights);
}

Tensor call_forward(const Tensor& input, const Tensor& weights) {
  static const auto op = op_handle<Forward>("mmfeatup::adaptive_conv");
  return op.call(input, weights);
}

std::tuple<Tensor, Tensor> call_backward(const Tensor& grad, const Tensor& input,
                                         const Tensor& weights) {
  return call_adaptive_conv_backward(grad, input, weights);
}

class AdaptiveConv : public torch::autograd::Function<AdaptiveConv> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& input, const Tensor& weights) {
    ctx->save_for_backward({input, weights});
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_forward(input, weights);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto [grad_input, grad_weights] = call_backward(grads[0], saved[0], saved[1]);
    return {grad_input, grad_weights};
  }
};

// (grad_input, grad_weights) = backward(g, input, weights): grad_input is linear in
// (g, weights), grad_weights in (g, input). With upstream (gg_in, gg_w):
//   d g = adaptive_conv(gg_in, weights) + adaptive_conv(input, gg_w)
//   d input = backward(g, input, gg_w).grad_input,  d weights = backward(g, gg_in, weights).grad_weights
class AdaptiveConvBackward : public torch::autograd::Function<AdaptiveConvBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& grad, const Tensor& input,
                               const Tensor& weights) {
    ctx->save_for_backward({grad, input, weights});
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [grad_input, grad_weights] = call_backward(grad, input, weights);
    return {grad_input, grad_weights};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Tensor &grad = saved[0], &input = saved[1], &weights = saved[2];
    const Tensor &gg_input = grads[0], &gg_weights = grads[1];
    Tensor d_grad, d_input, d_weights;
    if (ctx->needs_input_grad(0)) {
      d_grad = call_forward(gg_input, weights) + call_forward(input, gg_weights);
    }
    if (ctx->needs_input_grad(1)) d_input = std::get<0>(call_backward(grad, input, gg_weights));
    if (ctx->needs_input_grad(2)) d_weights = std::get<1>(call_backward(grad, gg_input, weights));
    return {d_grad, d_input, d_weights};
  }
};

std::tuple<Tensor, Tensor> backward_autograd(const Tensor& grad, const Tensor& input,
                                             const Tensor& weights) {
  const auto out = AdaptiveConvBackward::apply(grad, input, weights);
  return std::make_tuple(out[0], out[1]);
}

Tensor forward_autograd(const Tensor& input, const Tensor& weights) {
  return AdaptiveConv::apply(input, weights);
}

}  // namespace

MMFEATUP_REGISTER_OP(adaptive_conv,
                     "adaptive_conv(Tensor input, Tensor weights) -> Tensor",
                     "adaptive_conv_backward(Tensor grad_output, Tensor input, Tensor weights)"
                     " -> (Tensor, Tensor)")

}  // namespace mmfeatup
