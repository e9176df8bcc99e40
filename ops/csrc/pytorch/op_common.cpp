// Argument checks and ATen composites shared by the per-op files (op_common.h).
#include "op_common.h"

#include <ATen/core/grad_mode.h>

#include <sstream>

namespace mmfeatup {

namespace {
std::string shape_str(at::IntArrayRef shape) {
  std::ostringstream ss;
  ss << shape;
  return ss.str();
}

void check_floating(const Tensor& tensor, const char* name, const char* op) {
  const auto dtype = tensor.scalar_type();
  if (tensor.is_cuda()) {
    TORCH_CHECK_VALUE(dtype == at::kFloat || dtype == at::kDouble || dtype == at::kHalf ||
                          dtype == at::kBFloat16,
                      op, ": ", name, " must be float16, bfloat16, float32 or float64 on CUDA, got ",
                      dtype);
  } else {
    TORCH_CHECK_VALUE(dtype == at::kFloat || dtype == at::kDouble, op, ": ", name,
                      " must be float32 or float64 on ", tensor.device(),
                      " (float16/bfloat16 are supported on CUDA only), got ", dtype);
  }
}
}  // namespace

void check_same_device_dtype(const Tensor& reference, const char* reference_name,
                             const Tensor& other, const char* other_name, const char* op) {
  TORCH_CHECK_VALUE(other.device() == reference.device(), op, ": ", other_name, " is on ",
                    other.device(), " but ", reference_name, " is on ", reference.device(),
                    "; all tensors must be on the same device");
  TORCH_CHECK_VALUE(other.scalar_type() == reference.scalar_type(), op, ": ", other_name,
                    " has dtype ", other.scalar_type(), " but ", reference_name, " has dtype ",
                    reference.scalar_type(), "; all tensors must have the same dtype");
}

void check_4d_nonempty(const Tensor& tensor, const char* name, const char* layout,
                       const char* op) {
  TORCH_CHECK_VALUE(tensor.dim() == 4, op, ": ", name, " must be 4-D ", layout, ", got shape ",
                    shape_str(tensor.sizes()));
  TORCH_CHECK_VALUE(tensor.numel() > 0, op, ": ", name, " must be non-empty, got shape ",
                    shape_str(tensor.sizes()));
  check_floating(tensor, name, op);
}

void check_shape_as(const Tensor& tensor, at::IntArrayRef shape, const char* name,
                    const char* op) {
  TORCH_CHECK_VALUE(tensor.sizes() == shape, op, ": ", name, " must have shape ",
                    shape_str(shape), ", got ", shape_str(tensor.sizes()));
}

void check_scalar_like(const Tensor& tensor, const char* name, const Tensor& reference,
                       const char* reference_name, const char* op) {
  TORCH_CHECK_VALUE(tensor.numel() == 1, op, ": ", name,
                    " must be a 0-d or 1-element tensor, got shape ", shape_str(tensor.sizes()));
  check_same_device_dtype(reference, reference_name, tensor, name, op);
}

int64_t radius_of_taps(int64_t taps, const char* op) {
  int64_t diameter = 1;
  while (diameter * diameter < taps) diameter += 1;
  TORCH_CHECK_VALUE(diameter * diameter == taps && diameter % 2 == 1, op,
                    ": weights must have T = (2r+1)^2 taps (a square of an odd number) in dim 1, "
                    "got T = ",
                    taps);
  return diameter / 2;
}

void check_range_kernel_inputs(const Tensor& keys, const Tensor& temperature, int64_t radius,
                               const char* op) {
  check_4d_nonempty(keys, "keys", "[B,D,H,W]", op);
  TORCH_CHECK_VALUE(temperature.numel() == 1, op,
                    ": temperature (tau) must be a 0-d or 1-element tensor, got shape ",
                    shape_str(temperature.sizes()));
  check_same_device_dtype(keys, "keys", temperature, "temperature", op);
  TORCH_CHECK_VALUE(radius >= 1, op, ": radius must be >= 1, got ", radius);
  TORCH_CHECK_VALUE(radius < keys.size(2) && radius < keys.size(3), op,
                    ": radius must be smaller than the keys' height and width for reflect "
                    "padding, got radius=",
                    radius, " for keys of size (H, W) = (", keys.size(2), ", ", keys.size(3), ")");
}

Tensor range_logits_composite(const Tensor& keys, int64_t radius) {
  const int64_t height = keys.size(2), width = keys.size(3), diameter = 2 * radius + 1;
  const Tensor padded = at::reflection_pad2d(keys, {radius, radius, radius, radius});
  std::vector<Tensor> taps;
  for (int64_t i = 0; i < diameter; ++i) {
    for (int64_t j = 0; j < diameter; ++j) {
      taps.push_back((padded.slice(2, i, i + height).slice(3, j, j + width) * keys).sum(1));
    }
  }
  return at::stack(taps, 1);
}

Tensor adaptive_conv_composite(const Tensor& input, const Tensor& weights) {
  const int64_t height = weights.size(2), width = weights.size(3);
  const int64_t diameter = 2 * radius_of_taps(weights.size(1), "adaptive_conv") + 1;
  Tensor out;
  for (int64_t t = 0; t < diameter * diameter; ++t) {
    const int64_t i = t / diameter, j = t % diameter;
    const Tensor term = weights.slice(1, t, t + 1) *
                        input.slice(2, i, i + height).slice(3, j, j + width);
    out = out.defined() ? out + term : term;
  }
  return out;
}

std::tuple<Tensor, Tensor> call_adaptive_conv_backward(const Tensor& grad, const Tensor& input,
                                                       const Tensor& weights) {
  using Backward = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&);
  static const auto op = op_handle<Backward>("mmfeatup::adaptive_conv_backward");
  return op.call(grad, input, weights);
}

bool any_requires_grad(std::initializer_list<Tensor> tensors) {
  if (!at::GradMode::is_enabled()) return false;
  for (const Tensor& t : tensors) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

Tensor grad_leaf(const Tensor& tensor) {
  return tensor.requires_grad() ? tensor : tensor.detach().requires_grad_(true);
}

}  // namespace mmfeatup
