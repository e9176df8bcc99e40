// mmfeatup::jbu_upsample and its backward: schema, checks, per-device registration, autograd.
//   W = R * Sp / max(sum_t R * Sp, 1e-7),  out = adaptive_conv(source_padded, W)
// with R = range_kernel(keys, temperature, radius) and Sp the Gaussian spatial kernel.
// Kernels: cpu/jbu_upsample_cpu.cpp, cuda/jbu_upsample_cuda.cu; math: jbu_upsample_math.h.
// Higher-order gradients: jbu_upsample_backward records a differentiable ATen composite
// when a graph is needed, and runs the fused kernels otherwise.
#include <torch/autograd.h>
#include <torch/library.h>

#include "op_common.h"
#include "register_op.h"

namespace mmfeatup {

using JbuGrads = std::tuple<Tensor, Tensor, Tensor, Tensor>;

// Device kernels (validated inputs; temperature/sigma 0-d or 1-element; features and keys
// of any layout). The backward returns (d source_padded, d keys, d tau, d sigma).
Tensor jbu_upsample_cpu(const Tensor& source_padded, const Tensor& keys,
                        const Tensor& temperature, const Tensor& sigma, int64_t radius);
JbuGrads jbu_upsample_backward_cpu(const Tensor& grad_output, const Tensor& source_padded,
                                   const Tensor& keys, const Tensor& temperature,
                                   const Tensor& sigma, int64_t radius);
#ifdef MMFEATUP_WITH_CUDA
Tensor jbu_upsample_cuda(const Tensor& source_padded, const Tensor& keys,
                         const Tensor& temperature, const Tensor& sigma, int64_t radius);
JbuGrads jbu_upsample_backward_cuda(const Tensor& grad_output, const Tensor& source_padded,
                                    const Tensor& keys, const Tensor& temperature,
                                    const Tensor& sigma, int64_t radius);
#endif

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using Forward = Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int64_t);
using Backward = JbuGrads(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                          const Tensor&, int64_t);

void check_inputs(const Tensor& source_padded, const Tensor& keys, const Tensor& temperature,
                  const Tensor& sigma, int64_t radius, const char* op) {
  check_range_kernel_inputs(keys, temperature, radius, op);
  check_4d_nonempty(source_padded, "source_padded", "[B,C,H+2r,W+2r]", op);
  check_same_device_dtype(keys, "keys", source_padded, "source_padded", op);
  check_scalar_like(sigma, "sigma", keys, "keys", op);
  TORCH_CHECK_VALUE(source_padded.size(0) == keys.size(0), op,
                    ": batch size mismatch: source_padded has B=", source_padded.size(0),
                    ", keys has B=", keys.size(0));
  TORCH_CHECK_VALUE(source_padded.size(2) == keys.size(2) + 2 * radius &&
                        source_padded.size(3) == keys.size(3) + 2 * radius,
                    op, ": source_padded spatial size (", source_padded.size(2), ", ",
                    source_padded.size(3), ") must be the keys' (H+2r, W+2r) = (",
                    keys.size(2) + 2 * radius, ", ", keys.size(3) + 2 * radius,
                    ") for radius=", radius);
}

void check_backward(const Tensor& grad_output, const Tensor& source_padded, const Tensor& keys,
                    const Tensor& temperature, const Tensor& sigma, int64_t radius) {
  const char* op = "jbu_upsample_backward";
  check_inputs(source_padded, keys, temperature, sigma, radius, op);
  check_same_device_dtype(keys, "keys", grad_output, "grad_output", op);
  check_shape_as(grad_output, {keys.size(0), source_padded.size(1), keys.size(2), keys.size(3)},
                 "grad_output", op);
}

template <Forward* kernel>
Tensor forward_checked(const Tensor& source_padded, const Tensor& keys, const Tensor& temperature,
                       const Tensor& sigma, int64_t radius) {
  check_inputs(source_padded, keys, temperature, sigma, radius, "jbu_upsample");
  return kernel(source_padded, keys, temperature, sigma, radius);
}

template <Backward* kernel>
JbuGrads backward_checked(const Tensor& grad_output, const Tensor& source_padded,
                          const Tensor& keys, const Tensor& temperature, const Tensor& sigma,
                          int64_t radius) {
  check_backward(grad_output, source_padded, keys, temperature, sigma, radius);
  auto [d_source, d_keys, d_tau, d_sigma] =
      kernel(grad_output, source_padded, keys, temperature, sigma, radius);
  return std::make_tuple(d_source, d_keys, d_tau.reshape(temperature.sizes()),
                         d_sigma.reshape(sigma.sizes()));
}

Tensor call_forward(const Tensor& source_padded, const Tensor& keys, const Tensor& temperature,
                    const Tensor& sigma, int64_t radius) {
  static const auto op = op_handle<Forward>("mmfeatup::jbu_upsample");
  return op.call(source_padded, keys, temperature, sigma, radius);
}

JbuGrads call_backward(const Tensor& grad, const Tensor& source_padded, const Tensor& keys,
                       const Tensor& temperature, const Tensor& sigma, int64_t radius) {
  static const auto op = op_handle<Backward>("mmfeatup::jbu_upsample_backward");
  return op.call(grad, source_padded, keys, temperature, sigma, radius);
}

class JbuUpsample : public torch::autograd::Function<JbuUpsample> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& source_padded, const Tensor& keys,
                        const Tensor& temperature, const Tensor& sigma, int64_t radius) {
    ctx->save_for_backward({source_padded, keys, temperature, sigma});
    ctx->saved_data["radius"] = radius;
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_forward(source_padded, keys, temperature, sigma, radius);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    auto [d_source, d_keys, d_tau, d_sigma] =
        call_backward(grads[0], s[0], s[1], s[2], s[3], ctx->saved_data["radius"].toInt());
    return {d_source, d_keys, d_tau, d_sigma, Tensor()};
  }
};

// The forward as differentiable ATen ops (the contract of docs/design.md section 2).
Tensor jbu_composite(const Tensor& source_padded, const Tensor& keys, const Tensor& temperature,
                     const Tensor& sigma, int64_t radius) {
  const Tensor range = at::softmax(temperature.reshape({}) * range_logits_composite(keys, radius), 1);
  const Tensor grid = at::linspace(-1, 1, 2 * radius + 1, keys.options());
  const Tensor sq = (grid.reshape({-1, 1}).square() + grid.reshape({1, -1}).square()).reshape(-1);
  const Tensor spatial = at::exp(-sq / (2 * sigma.reshape({}).square()));
  const Tensor combined = range * spatial.reshape({1, -1, 1, 1});
  const Tensor kernel = combined / combined.sum(1, true).clamp_min(1e-7);
  return adaptive_conv_composite(source_padded, kernel);
}

JbuGrads backward_autograd(const Tensor& grad, const Tensor& source_padded, const Tensor& keys,
                           const Tensor& temperature, const Tensor& sigma, int64_t radius) {
  if (!any_requires_grad({grad, source_padded, keys, temperature, sigma})) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_backward(grad, source_padded, keys, temperature, sigma, radius);
  }
  check_backward(grad, source_padded, keys, temperature, sigma, radius);
  const std::vector<Tensor> inputs{grad_leaf(source_padded), grad_leaf(keys),
                                   grad_leaf(temperature), grad_leaf(sigma)};
  const Tensor out = jbu_composite(inputs[0], inputs[1], inputs[2], inputs[3], radius);
  auto g = torch::autograd::grad({out}, inputs, {grad}, /*retain_graph=*/true,
                                 /*create_graph=*/true, /*allow_unused=*/true);
  for (size_t i = 0; i < g.size(); ++i) {
    if (!g[i].defined()) g[i] = at::zeros_like(inputs[i]);
  }
  return std::make_tuple(g[0], g[1], g[2], g[3]);
}

Tensor forward_autograd(const Tensor& source_padded, const Tensor& keys, const Tensor& temperature,
                        const Tensor& sigma, int64_t radius) {
  return JbuUpsample::apply(source_padded, keys, temperature, sigma, radius);
}

}  // namespace

MMFEATUP_REGISTER_OP(jbu_upsample,
                     "jbu_upsample(Tensor source_padded, Tensor keys, Tensor temperature, "
                     "Tensor sigma, int radius) -> Tensor",
                     "jbu_upsample_backward(Tensor grad_output, Tensor source_padded, Tensor keys, "
                     "Tensor temperature, Tensor sigma, int radius) "
                     "-> (Tensor, Tensor, Tensor, Tensor)")

}  // namespace mmfeatup
