// Input validation shared by the schema/dispatch files: clear errors naming the argument.
#include <sstream>

#include "mmfeatup_ops.h"

namespace mmfeatup {

namespace {
std::string shape_str(at::IntArrayRef shape) {
  std::ostringstream ss;
  ss << shape;
  return ss.str();
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

int64_t radius_of_taps(int64_t taps, const char* op) {
  int64_t diameter = 1;
  while (diameter * diameter < taps) diameter += 1;
  TORCH_CHECK_VALUE(diameter * diameter == taps && diameter % 2 == 1, op,
                    ": weights must have T = (2r+1)^2 taps (a square of an odd number) in dim 1, "
                    "got T = ",
                    taps);
  return diameter / 2;
}

void check_adaptive_conv_inputs(const Tensor& input, const Tensor& weights, const char* op) {
  check_4d_nonempty(input, "input", "[B,C,H+2r,W+2r]", op);
  TORCH_CHECK_VALUE(weights.dim() == 4, op,
                    ": weights must be 4-D [B,T,H,W] (the Python API converts the authors' "
                    "[B,H,W,d,d] layout), got shape ",
                    shape_str(weights.sizes()));
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

}  // namespace mmfeatup
