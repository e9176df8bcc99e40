// mmfeatup::range_kernel and its backward: schema, checks, per-device registration, autograd.
//   R[b,t,y,x] = softmax_t(tau * <K[b,:,reflect(y+i_t-r),reflect(x+j_t-r)], K[b,:,y,x]>)
// Kernels: cpu/range_kernel_cpu.cpp, cuda/range_kernel_cuda.cu; math: range_kernel_math.h.
// Higher-order gradients: range_kernel_backward records a differentiable ATen composite
// (the same formula) when a graph is needed, and runs the fused kernels otherwise.
#include <torch/autograd.h>
#include <torch/library.h>

#include "op_common.h"
#include "register_op.h"
#include "reused_kernels.h"

namespace mmfeatup {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using Forward = Tensor(const Tensor&, const Tensor&, int64_t);
using Backward = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                            const Tensor&, int64_t);

template <Forward* kernel>
Tensor forward_checked(const Tensor& keys, const Tensor& temperature, int64_t radius) {
  check_range_kernel_inputs(keys, temperature, radius, "range_kernel");
  return kernel(keys, temperature, radius);
}

void check_backward(const Tensor& grad_output, const Tensor& output, const Tensor& keys,
                    const Tensor& temperature, int64_t radius) {
  const char* op = "range_kernel_backward";
  check_range_kernel_inputs(keys, temperature, radius, op);
  const int64_t diameter = 2 * radius + 1;
  const std::vector<int64_t> shape{keys.size(0), diameter * diameter, keys.size(2), keys.size(3)};
  check_same_device_dtype(keys, "keys", grad_output, "grad_output", op);
  check_same_device_dtype(keys, "keys", output, "output", op);
  check_shape_as(grad_output, shape, "grad_output", op);
  check_shape_as(output, shape, "output", op);
}

template <Backward* kernel>
std::tuple<Tensor, Tensor> backward_checked(const Tensor& grad_output, const Tensor& output,
                                            const Tensor& keys, const Tensor& temperature,
                                            int64_t radius) {
  check_backward(grad_output, output, keys, temperature, radius);
  auto [grad_keys, grad_tau] = kernel(grad_output, output, keys, temperature, radius);
  return std::make_tuple(grad_keys, grad_tau.reshape(temperature.sizes()));
}

Tensor call_forward(const Tensor& keys, const Tensor& temperature, int64_t radius) {
  static const auto op = op_handle<Forward>("mmfeatup::range_kernel");
  return op.call(keys, temperature, radius);
}

std::tuple<Tensor, Tensor> call_backward(const Tensor& grad, const Tensor& output,
                                         const Tensor& keys, const Tensor& temperature,
                                         int64_t radius) {
  static const auto op = op_handle<Backward>("mmfeatup::range_kernel_backward");
  return op.call(grad, output, keys, temperature, radius);
}

// The dtype of the backward state (R and the gradient chain): float32 for float16/bfloat16
// (what the CUDA kernels accumulate in). d tau = sum_t R_t (g_t - sum_u g_u R_u) L_t cancels
// almost completely in saturated windows, and R rounded to bfloat16 lost most of it.
at::ScalarType state_dtype(at::ScalarType dtype) {
  return dtype == at::kHalf || dtype == at::kBFloat16 ? at::kFloat : dtype;
}

class RangeKernel : public torch::autograd::Function<RangeKernel> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& keys, const Tensor& temperature,
                        int64_t radius) {
    at::AutoDispatchBelowADInplaceOrView guard;
    Tensor out = call_forward(keys, temperature, radius);
    ctx->saved_data["radius"] = radius;
    // A low-precision output is R rounded: not kept, the backward recomputes R in float32.
    const bool keep = state_dtype(keys.scalar_type()) == keys.scalar_type();
    ctx->save_for_backward({keys, temperature, keep ? out : Tensor()});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const int64_t radius = ctx->saved_data["radius"].toInt();
    const Tensor &keys = saved[0], &temperature = saved[1];
    const auto state = state_dtype(keys.scalar_type());
    Tensor grad_keys, grad_tau;
    if (state != keys.scalar_type()) {
      const Tensor keys_s = keys.to(state), tau_s = temperature.to(state);
      std::tie(grad_keys, grad_tau) =
          call_backward(grads[0].to(state), call_forward(keys_s, tau_s, radius), keys_s, tau_s,
                        radius);
      grad_keys = grad_keys.to(keys.scalar_type());
      grad_tau = grad_tau.to(temperature.scalar_type());
    } else {
      std::tie(grad_keys, grad_tau) = call_backward(grads[0], saved[2], keys, temperature, radius);
    }
    return {grad_keys, grad_tau, Tensor()};
  }
};

// Autograd of range_kernel_backward: the fused kernels when no graph is needed, else the
// formula as differentiable ATen ops (output R an independent input, as in the schema):
//   dZ = R (g - sum_t g R),  d tau = sum dZ L,  d keys = (dL/dkeys)^T (tau dZ).
std::tuple<Tensor, Tensor> backward_autograd(const Tensor& grad, const Tensor& output,
                                             const Tensor& keys, const Tensor& temperature,
                                             int64_t radius) {
  if (!any_requires_grad({grad, output, keys, temperature})) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_backward(grad, output, keys, temperature, radius);
  }
  check_backward(grad, output, keys, temperature, radius);
  const Tensor keys_g = grad_leaf(keys);
  const Tensor logits = range_logits_composite(keys_g, radius);
  const Tensor dz = output * (grad - (grad * output).sum(1, true));
  const Tensor grad_tau = (dz * logits).sum().reshape(temperature.sizes());
  const Tensor grad_keys = torch::autograd::grad({logits}, {keys_g}, {dz * temperature.reshape({})},
                                                 /*retain_graph=*/true, /*create_graph=*/true)[0];
  return std::make_tuple(grad_keys, grad_tau);
}

Tensor forward_autograd(const Tensor& keys, const Tensor& temperature, int64_t radius) {
  return RangeKernel::apply(keys, temperature, radius);
}

}  // namespace

MMFEATUP_REGISTER_OP(range_kernel,
                     "range_kernel(Tensor keys, Tensor temperature, int radius) -> Tensor",
                     "range_kernel_backward(Tensor grad_output, Tensor output, Tensor keys, "
                     "Tensor temperature, int radius) -> (Tensor, Tensor)")

}  // namespace mmfeatup
