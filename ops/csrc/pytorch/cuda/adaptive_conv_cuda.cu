// CUDA kernels of mmfeatup::adaptive_conv: forward, input gradient (a gather over the
// output pixels: deterministic, no atomics) and filter gradient (one thread per
// (b, t, y, x): every tap gets its gradient). float16/bfloat16 accumulate in float32.
// One launch per kernel for the whole batch, on the current stream; 64-bit indexing
// when a tensor has 2^31 elements or more.
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "cuda_helpers.cuh"
#include "mmfeatup_ops.h"

namespace mmfeatup {
namespace {

template <typename scalar_t, typename weight_t, typename acc_t, typename index_t>
__global__ void forward_kernel(const scalar_t* __restrict__ input,
                               const weight_t* __restrict__ weights, scalar_t* __restrict__ out,
                               index_t n, index_t channels, index_t height, index_t width,
                               int radius) {
  const int diameter = 2 * radius + 1;
  const index_t plane = height * width, pw = width + 2 * radius, ph = height + 2 * radius;
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const index_t x = index % width;
    index_t rest = index / width;
    const index_t y = rest % height;
    rest /= height;
    const index_t c = rest % channels, b = rest / channels;
    const scalar_t* src = input + ((b * channels + c) * ph + y) * pw + x;
    const weight_t* w = weights + b * diameter * diameter * plane + y * width + x;
    acc_t acc = 0;
    for (int i = 0; i < diameter; ++i) {
      for (int j = 0; j < diameter; ++j) {
        acc += static_cast<acc_t>(w[(i * diameter + j) * plane]) *
               static_cast<acc_t>(src[i * pw + j]);
      }
    }
    out[index] = static_cast<scalar_t>(acc);
  }
}

// grad_weights[b,t,y,x] = sum_c grad[b,c,y,x] * input[b,c,y+i,x+j]; index runs over all
// B*T*H*W entries, so each tap t is covered (cf. the reference's blockIdx.z*blockIdx.z bug).
template <typename scalar_t, typename acc_t, typename index_t>
__global__ void grad_weights_kernel(const scalar_t* __restrict__ grad,
                                    const scalar_t* __restrict__ input,
                                    scalar_t* __restrict__ grad_weights, index_t n,
                                    index_t channels, index_t height, index_t width, int radius) {
  const int diameter = 2 * radius + 1, taps = diameter * diameter;
  const index_t plane = height * width, pw = width + 2 * radius, ph = height + 2 * radius;
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const index_t x = index % width;
    index_t rest = index / width;
    const index_t y = rest % height;
    rest /= height;
    const int t = static_cast<int>(rest % taps);
    const index_t b = rest / taps;
    const int i = t / diameter, j = t % diameter;
    const scalar_t* g = grad + b * channels * plane + y * width + x;
    const scalar_t* src = input + (b * channels * ph + y + i) * pw + x + j;
    acc_t acc = 0;
    for (index_t c = 0; c < channels; ++c) {
      acc += static_cast<acc_t>(g[c * plane]) * static_cast<acc_t>(src[c * ph * pw]);
    }
    grad_weights[index] = static_cast<scalar_t>(acc);
  }
}

// grad_input[b,c,Y,X] = sum_{i,j} weights[b,t,Y-i,X-j] * grad[b,c,Y-i,X-j] (valid positions).
template <typename scalar_t, typename acc_t, typename index_t>
__global__ void grad_input_kernel(const scalar_t* __restrict__ grad,
                                  const scalar_t* __restrict__ weights,
                                  scalar_t* __restrict__ grad_input, index_t n, index_t channels,
                                  index_t height, index_t width, int radius) {
  const int diameter = 2 * radius + 1, taps = diameter * diameter;
  const index_t plane = height * width, pw = width + 2 * radius, ph = height + 2 * radius;
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const index_t px = index % pw;
    index_t rest = index / pw;
    const index_t py = rest % ph;
    rest /= ph;
    const index_t c = rest % channels, b = rest / channels;
    const scalar_t* g = grad + (b * channels + c) * plane;
    const scalar_t* w = weights + b * taps * plane;
    acc_t acc = 0;
    for (int i = 0; i < diameter; ++i) {
      const index_t y = py - i;
      if (y < 0 || y >= height) continue;
      for (int j = 0; j < diameter; ++j) {
        const index_t x = px - j;
        if (x < 0 || x >= width) continue;
        acc += static_cast<acc_t>(w[(i * diameter + j) * plane + y * width + x]) *
               static_cast<acc_t>(g[y * width + x]);
      }
    }
    grad_input[index] = static_cast<scalar_t>(acc);
  }
}

template <typename scalar_t, typename weight_t>
void launch_forward(const Tensor& input, const Tensor& weights, Tensor& out) {
  using acc_t = at::acc_type<scalar_t, true>;
  const int64_t channels = input.size(1), height = weights.size(2), width = weights.size(3);
  const int radius = static_cast<int>((input.size(2) - height) / 2);
  const int64_t n = out.numel();
  auto stream = at::cuda::getCurrentCUDAStream();
  if (cuda::fits_int32({input.numel(), weights.numel(), n})) {
    forward_kernel<scalar_t, weight_t, acc_t, int>
        <<<cuda::num_blocks(n), cuda::kThreads, 0, stream>>>(
            input.data_ptr<scalar_t>(), weights.data_ptr<weight_t>(), out.data_ptr<scalar_t>(),
            static_cast<int>(n), static_cast<int>(channels), static_cast<int>(height),
            static_cast<int>(width), radius);
  } else {
    forward_kernel<scalar_t, weight_t, acc_t, int64_t>
        <<<cuda::num_blocks(n), cuda::kThreads, 0, stream>>>(
            input.data_ptr<scalar_t>(), weights.data_ptr<weight_t>(), out.data_ptr<scalar_t>(),
            n, channels, height, width, radius);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename scalar_t, typename index_t>
void launch_backward(const Tensor& grad, const Tensor& input, const Tensor& weights,
                     Tensor& grad_input, Tensor& grad_weights) {
  using acc_t = at::acc_type<scalar_t, true>;
  const index_t channels = input.size(1), height = weights.size(2), width = weights.size(3);
  const int radius = static_cast<int>((input.size(2) - height) / 2);
  auto stream = at::cuda::getCurrentCUDAStream();
  const index_t n_w = grad_weights.numel(), n_in = grad_input.numel();
  grad_weights_kernel<scalar_t, acc_t, index_t><<<cuda::num_blocks(n_w), cuda::kThreads, 0,
                                                  stream>>>(
      grad.data_ptr<scalar_t>(), input.data_ptr<scalar_t>(), grad_weights.data_ptr<scalar_t>(),
      n_w, channels, height, width, radius);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  grad_input_kernel<scalar_t, acc_t, index_t><<<cuda::num_blocks(n_in), cuda::kThreads, 0,
                                                stream>>>(
      grad.data_ptr<scalar_t>(), weights.data_ptr<scalar_t>(), grad_input.data_ptr<scalar_t>(),
      n_in, channels, height, width, radius);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

Tensor adaptive_conv_forward_cuda(const Tensor& input, const Tensor& weights) {
  const c10::cuda::CUDAGuard guard(input.device());
  Tensor out = at::empty({input.size(0), input.size(1), weights.size(2), weights.size(3)},
                         input.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(),
                                  "adaptive_conv_forward_cuda",
                                  [&] { launch_forward<scalar_t, scalar_t>(input, weights, out); });
  return out;
}

Tensor adaptive_conv_forward_acc_weights_cuda(const Tensor& input, const Tensor& weights) {
  const c10::cuda::CUDAGuard guard(input.device());
  Tensor out = at::empty({input.size(0), input.size(1), weights.size(2), weights.size(3)},
                         input.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, input.scalar_type(), "adaptive_conv_forward_acc_weights_cuda",
      [&] {
        using acc_t = at::acc_type<scalar_t, true>;
        TORCH_CHECK(weights.scalar_type() == c10::CppTypeToScalarType<acc_t>::value,
                    "adaptive_conv: internal weights must have the accumulate dtype");
        launch_forward<scalar_t, acc_t>(input, weights, out);
      });
  return out;
}

std::tuple<Tensor, Tensor> adaptive_conv_backward_cuda(const Tensor& grad_output,
                                                       const Tensor& input,
                                                       const Tensor& weights) {
  const c10::cuda::CUDAGuard guard(input.device());
  Tensor grad_input = at::empty(input.sizes(), input.options());
  Tensor grad_weights = at::empty(weights.sizes(), weights.options());
  const bool small = cuda::fits_int32({input.numel(), weights.numel(), grad_output.numel()});
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, input.scalar_type(), "adaptive_conv_backward_cuda", [&] {
        if (small) {
          launch_backward<scalar_t, int>(grad_output, input, weights, grad_input, grad_weights);
        } else {
          launch_backward<scalar_t, int64_t>(grad_output, input, weights, grad_input,
                                             grad_weights);
        }
      });
  return std::make_tuple(grad_input, grad_weights);
}

}  // namespace mmfeatup
