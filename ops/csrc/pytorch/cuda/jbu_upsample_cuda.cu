// CUDA kernel of mmfeatup::jbu_upsample: one thread per pixel computes the normalised
// (range x spatial) kernel into one accumulate-type [B, T, H, W] buffer; the adaptive
// convolution kernel then aggregates the features with it. Two launches for the batch.
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <limits>

#include "cuda_helpers.cuh"
#include "jbu_math.h"
#include "mmfeatup_ops.h"

namespace mmfeatup {
namespace {

template <typename scalar_t, typename acc_t, typename index_t>
__device__ __forceinline__ acc_t pixel_logit(const scalar_t* __restrict__ keys_b, index_t p,
                                             index_t q, index_t depth, index_t plane, acc_t tau) {
  acc_t acc = 0;
  for (index_t d = 0; d < depth; ++d) {
    acc += static_cast<acc_t>(keys_b[d * plane + p]) * static_cast<acc_t>(keys_b[d * plane + q]);
  }
  return tau * acc;
}

template <typename scalar_t, typename acc_t, typename index_t>
__global__ void kernel_weights(const scalar_t* __restrict__ keys,
                               const scalar_t* __restrict__ temperature,
                               const scalar_t* __restrict__ sigma, acc_t* __restrict__ weights,
                               index_t n, index_t depth, index_t height, index_t width,
                               int radius) {
  const int diameter = 2 * radius + 1, taps = diameter * diameter;
  const index_t plane = height * width;
  const acc_t tau = static_cast<acc_t>(*temperature);
  const acc_t sig = static_cast<acc_t>(*sigma);
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const index_t p = index % plane, b = index / plane;
    const index_t y = p / width, x = p % width;
    const scalar_t* keys_b = keys + b * depth * plane;
    acc_t max_logit = -std::numeric_limits<acc_t>::infinity(), sum = 0;
    for (int i = 0; i < diameter; ++i) {
      const index_t ry = reflect_index(y + i - radius, height);
      for (int j = 0; j < diameter; ++j) {
        const index_t q = ry * width + reflect_index(x + j - radius, width);
        const acc_t z = pixel_logit<scalar_t, acc_t, index_t>(keys_b, p, q, depth, plane, tau);
        online_softmax_push<acc_t>(z, max_logit, sum);
      }
    }
    acc_t* w_p = weights + b * taps * plane + p;
    acc_t total = 0;
    for (int i = 0; i < diameter; ++i) {
      const index_t ry = reflect_index(y + i - radius, height);
      for (int j = 0; j < diameter; ++j) {
        const index_t q = ry * width + reflect_index(x + j - radius, width);
        const acc_t z = pixel_logit<scalar_t, acc_t, index_t>(keys_b, p, q, depth, plane, tau);
        const acc_t a = exp(z - max_logit) / sum *
                        spatial_weight<acc_t>(i - radius, j - radius, radius, sig);
        w_p[(i * diameter + j) * plane] = a;
        total += a;
      }
    }
    const acc_t inv = acc_t(1) / (total > acc_t(kJbuEps) ? total : acc_t(kJbuEps));
    for (int t = 0; t < taps; ++t) w_p[t * plane] *= inv;
  }
}

}  // namespace

Tensor jbu_upsample_forward_cuda(const Tensor& source_padded, const Tensor& keys,
                                 const Tensor& temperature, const Tensor& sigma, int64_t radius) {
  const c10::cuda::CUDAGuard guard(keys.device());
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3), diameter = 2 * radius + 1;
  const auto acc_options = keys.options().dtype(at::toAccumulateType(keys.scalar_type(), true));
  Tensor weights = at::empty({batch, diameter * diameter, height, width}, acc_options);
  const int64_t n = batch * height * width;
  const bool small = cuda::fits_int32({keys.numel(), weights.numel()});
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, keys.scalar_type(), "jbu_upsample_forward_cuda", [&] {
        using acc_t = at::acc_type<scalar_t, true>;
        if (small) {
          kernel_weights<scalar_t, acc_t, int><<<cuda::num_blocks(n), cuda::kThreads, 0, stream>>>(
              keys.data_ptr<scalar_t>(), temperature.data_ptr<scalar_t>(),
              sigma.data_ptr<scalar_t>(), weights.data_ptr<acc_t>(), static_cast<int>(n),
              static_cast<int>(depth), static_cast<int>(height), static_cast<int>(width),
              static_cast<int>(radius));
        } else {
          kernel_weights<scalar_t, acc_t, int64_t>
              <<<cuda::num_blocks(n), cuda::kThreads, 0, stream>>>(
                  keys.data_ptr<scalar_t>(), temperature.data_ptr<scalar_t>(),
                  sigma.data_ptr<scalar_t>(), weights.data_ptr<acc_t>(), n, depth, height, width,
                  static_cast<int>(radius));
        }
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
  return adaptive_conv_forward_acc_weights_cuda(source_padded, weights);
}

}  // namespace mmfeatup
