// mmfeatup::adaptive_conv: schema-level validation and device dispatch.
//   out[b,c,y,x] = sum_t weights[b,t,y,x] * input[b,c,y+i_t,x+j_t]
#include "mmfeatup_ops.h"

namespace mmfeatup {

Tensor adaptive_conv_forward(const Tensor& input, const Tensor& weights) {
  check_adaptive_conv_inputs(input, weights, "adaptive_conv");
  // The CPU kernels read the input channels-last: they take any layout (a channels-last
  // input is used without a copy); the CUDA kernels need it contiguous.
  const Tensor in = input.is_cuda() ? input.contiguous() : input;
  const Tensor w = weights.contiguous();
  if (in.is_cuda()) {
#ifdef MMFEATUP_WITH_CUDA
    return adaptive_conv_forward_cuda(in, w);
#else
    TORCH_CHECK(false, "adaptive_conv: mmfeatup._ext was built without CUDA");
#endif
  }
  return adaptive_conv_forward_cpu(in, w);
}

std::tuple<Tensor, Tensor> adaptive_conv_backward(const Tensor& grad_output, const Tensor& input,
                                                  const Tensor& weights) {
  const char* op = "adaptive_conv_backward";
  check_adaptive_conv_inputs(input, weights, op);
  check_same_device_dtype(input, "input", grad_output, "grad_output", op);
  check_shape_as(grad_output, {input.size(0), input.size(1), weights.size(2), weights.size(3)},
                 "grad_output", op);
  const Tensor g = input.is_cuda() ? grad_output.contiguous() : grad_output;
  const Tensor in = input.is_cuda() ? input.contiguous() : input;
  const Tensor w = weights.contiguous();
  if (in.is_cuda()) {
#ifdef MMFEATUP_WITH_CUDA
    return adaptive_conv_backward_cuda(g, in, w);
#else
    TORCH_CHECK(false, "adaptive_conv_backward: mmfeatup._ext was built without CUDA");
#endif
  }
  return adaptive_conv_backward_cpu(g, in, w);
}

}  // namespace mmfeatup
