// mmfeatup::range_kernel: schema-level validation and device dispatch.
//   R[b,t,y,x] = softmax_t(tau * <K[b,:,reflect(y+i_t-r),reflect(x+j_t-r)], K[b,:,y,x]>)
#include "mmfeatup_ops.h"

namespace mmfeatup {

Tensor range_kernel_forward(const Tensor& keys, const Tensor& temperature, int64_t radius) {
  check_range_kernel_inputs(keys, temperature, radius, "range_kernel");
  // The CPU kernels read the keys channels-last (any layout; no copy when already so).
  const Tensor k = keys.is_cuda() ? keys.contiguous() : keys;
  const Tensor tau = temperature.reshape({}).contiguous();
  if (k.is_cuda()) {
#ifdef MMFEATUP_WITH_CUDA
    return range_kernel_forward_cuda(k, tau, radius);
#else
    TORCH_CHECK(false, "range_kernel: mmfeatup._ext was built without CUDA");
#endif
  }
  return range_kernel_forward_cpu(k, tau, radius);
}

std::tuple<Tensor, Tensor> range_kernel_backward(const Tensor& grad_output, const Tensor& output,
                                                 const Tensor& keys, const Tensor& temperature,
                                                 int64_t radius) {
  const char* op = "range_kernel_backward";
  check_range_kernel_inputs(keys, temperature, radius, op);
  const int64_t diameter = 2 * radius + 1;
  const std::vector<int64_t> shape{keys.size(0), diameter * diameter, keys.size(2), keys.size(3)};
  check_same_device_dtype(keys, "keys", grad_output, "grad_output", op);
  check_same_device_dtype(keys, "keys", output, "output", op);
  check_shape_as(grad_output, shape, "grad_output", op);
  check_shape_as(output, shape, "output", op);
  const Tensor g = grad_output.contiguous();
  const Tensor out = output.contiguous();
  const Tensor k = keys.is_cuda() ? keys.contiguous() : keys;
  const Tensor tau = temperature.reshape({}).contiguous();
  Tensor grad_keys, grad_tau;
  if (k.is_cuda()) {
#ifdef MMFEATUP_WITH_CUDA
    std::tie(grad_keys, grad_tau) = range_kernel_backward_cuda(g, out, k, tau, radius);
#else
    TORCH_CHECK(false, "range_kernel_backward: mmfeatup._ext was built without CUDA");
#endif
  } else {
    std::tie(grad_keys, grad_tau) = range_kernel_backward_cpu(g, out, k, tau, radius);
  }
  return std::make_tuple(grad_keys, grad_tau.reshape(temperature.sizes()));
}

}  // namespace mmfeatup
