// CUDA kernels of mmfeatup::adaptive_conv: forward, input gradient (a gather over the
// output pixels: deterministic, no atomics; window geometry from adaptive_conv_math.h) and
// filter gradient (one thread per (b, t, y, x): every tap gets its gradient).
// float16/bfloat16 accumulate in float32. One launch per kernel for the whole batch, on the
// current stream; 64-bit indexing when a tensor has 2^31 elements or more.
#include "adaptive_conv_math.h"
#include "cuda_helpers.cuh"
#include "reused_kernels.h"

namespace mmfeatup {
namespace {

using at::Tensor;

template <typename scalar_t, typename weight_t, typename acc_t, typename index_t>
__global__ void forward_kernel(const scalar_t* __restrict__ input,
                               const weight_t* __restrict__ weights, scalar_t* __restrict__ out,
                               index_t n, index_t channels, index_t height, index_t width,
                               int radius) {
  const int diameter = 2 * radius + 1;
  const index_t plane = height * width, pw = width + 2 * radius, ph = height + 2 * radius;
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const auto [b, c, y, x] = cuda::unravel_nchw<index_t>(index, channels, height, width);
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
    const index_t p = index % plane, rest = index / plane;
    const int t = static_cast<int>(rest % taps);
    const index_t b = rest / taps;
    const scalar_t* g = grad + b * channels * plane + p;
    const scalar_t* src =
        input + (b * channels * ph + p / width + t / diameter) * pw + p % width + t % diameter;
    acc_t acc = 0;
    for (index_t c = 0; c < channels; ++c) {
      acc += static_cast<acc_t>(g[c * plane]) * static_cast<acc_t>(src[c * ph * pw]);
    }
    grad_weights[index] = static_cast<scalar_t>(acc);
  }
}

// grad_input[b,c,Y,X] = sum over the output pixels whose taps read (Y, X) (for_each_reader).
template <typename scalar_t, typename acc_t, typename index_t>
__global__ void grad_input_kernel(const scalar_t* __restrict__ grad,
                                  const scalar_t* __restrict__ weights,
                                  scalar_t* __restrict__ grad_input, index_t n, index_t channels,
                                  index_t height, index_t width, int radius) {
  const int diameter = 2 * radius + 1, taps = diameter * diameter;
  const index_t plane = height * width, pw = width + 2 * radius, ph = height + 2 * radius;
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const auto [b, c, py, px] = cuda::unravel_nchw<index_t>(index, channels, ph, pw);
    const scalar_t* g = grad + (b * channels + c) * plane;
    const scalar_t* w = weights + b * taps * plane;
    acc_t acc = 0;
    for_each_reader<index_t>(py, px, height, width, diameter, [&](int t, index_t y, index_t x) {
      acc += static_cast<acc_t>(w[t * plane + y * width + x]) *
             static_cast<acc_t>(g[y * width + x]);
    });
    grad_input[index] = static_cast<scalar_t>(acc);
  }
}

// The forward with weights of type weight_t (the input dtype, or its accumulate type).
template <bool kAccWeights>
Tensor forward(const Tensor& input_any, const Tensor& weights_any) {
  const c10::cuda::CUDAGuard guard(input_any.device());
  const Tensor input = input_any.contiguous(), weights = weights_any.contiguous();
  const int64_t channels = input.size(1), height = weights.size(2), width = weights.size(3);
  const int radius = static_cast<int>((input.size(2) - height) / 2);
  Tensor out = at::empty({input.size(0), channels, height, width}, input.options());
  const int64_t n = out.numel();
  MMFEATUP_DISPATCH_CUDA(
      input.scalar_type(), cuda::fits_int32({input.numel(), weights.numel(), n}),
      "adaptive_conv_cuda", [&](auto index_tag) {
        using index_t = decltype(index_tag);
        using weight_t = std::conditional_t<kAccWeights, acc_t, scalar_t>;
        TORCH_CHECK(weights.scalar_type() == c10::CppTypeToScalarType<weight_t>::value,
                    "adaptive_conv: internal weights of an unexpected dtype");
        cuda::launch(forward_kernel<scalar_t, weight_t, acc_t, index_t>, n,
                     input.data_ptr<scalar_t>(), weights.data_ptr<weight_t>(),
                     out.data_ptr<scalar_t>(), static_cast<index_t>(n),
                     static_cast<index_t>(channels), static_cast<index_t>(height),
                     static_cast<index_t>(width), radius);
      });
  return out;
}

}  // namespace

Tensor adaptive_conv_cuda(const Tensor& input, const Tensor& weights) {
  return forward<false>(input, weights);
}

// The forward with weights in the accumulate type (float32 for float16/bfloat16 input),
// used by the fused JBU.
Tensor adaptive_conv_acc_weights_cuda(const Tensor& input, const Tensor& weights) {
  return forward<true>(input, weights);
}

std::tuple<Tensor, Tensor> adaptive_conv_backward_cuda(const Tensor& grad_output,
                                                       const Tensor& input_any,
                                                       const Tensor& weights_any) {
  const c10::cuda::CUDAGuard guard(input_any.device());
  const Tensor grad = grad_output.contiguous(), input = input_any.contiguous();
  const Tensor weights = weights_any.contiguous();
  const int64_t channels = input.size(1), height = weights.size(2), width = weights.size(3);
  const int radius = static_cast<int>((input.size(2) - height) / 2);
  Tensor grad_input = at::empty(input.sizes(), input.options());
  Tensor grad_weights = at::empty(weights.sizes(), weights.options());
  const int64_t n_w = grad_weights.numel(), n_in = grad_input.numel();
  MMFEATUP_DISPATCH_CUDA(
      input.scalar_type(), cuda::fits_int32({input.numel(), weights.numel(), grad.numel()}),
      "adaptive_conv_backward_cuda", [&](auto index_tag) {
        using index_t = decltype(index_tag);
        cuda::launch(grad_weights_kernel<scalar_t, acc_t, index_t>, n_w,
                     grad.data_ptr<scalar_t>(), input.data_ptr<scalar_t>(),
                     grad_weights.data_ptr<scalar_t>(), static_cast<index_t>(n_w),
                     static_cast<index_t>(channels), static_cast<index_t>(height),
                     static_cast<index_t>(width), radius);
        cuda::launch(grad_input_kernel<scalar_t, acc_t, index_t>, n_in,
                     grad.data_ptr<scalar_t>(), weights.data_ptr<scalar_t>(),
                     grad_input.data_ptr<scalar_t>(), static_cast<index_t>(n_in),
                     static_cast<index_t>(channels), static_cast<index_t>(height),
                     static_cast<index_t>(width), radius);
      });
  return std::make_tuple(grad_input, grad_weights);
}

}  // namespace mmfeatup
