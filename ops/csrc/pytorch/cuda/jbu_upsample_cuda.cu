// CUDA kernels of mmfeatup::jbu_upsample; the arithmetic is ops/csrc/common/jbu_upsample_math.h
// (and range_kernel_math.h), shared with the CPU kernels. Everything up to the features runs
// in the accumulate type (float32 for float16/bfloat16).
// Forward: one thread per pixel computes the normalised (range x spatial) kernel into one
// [B, T, H, W] buffer; the adaptive convolution kernel then aggregates the features with it.
// Backward: R = range_kernel, W per pixel, (d source, dW) = adaptive_conv_backward(g, U, W),
// dR and d sigma per pixel (jbu_kernel_grads), then range_kernel_backward(dR).
#include "cuda_helpers.cuh"
#include "jbu_upsample_math.h"
#include "reused_kernels.h"

namespace mmfeatup {

using at::Tensor;

namespace {

// table [2T]: S_t, then dS_t/dsigma (spatial_table_entry), from sigma on the device.
template <typename scalar_t, typename acc_t>
__global__ void spatial_table_kernel(const scalar_t* __restrict__ sigma, acc_t* __restrict__ table,
                                     int taps, int radius) {
  MMFEATUP_CUDA_LOOP(t, taps, int) {
    spatial_table_entry<acc_t>(t, radius, static_cast<acc_t>(*sigma), table);
  }
}

template <typename scalar_t, typename acc_t>
Tensor spatial_table(const Tensor& sigma, int64_t radius) {
  const int taps = static_cast<int>((2 * radius + 1) * (2 * radius + 1));
  Tensor table = at::empty({2 * taps}, sigma.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
  cuda::launch(spatial_table_kernel<scalar_t, acc_t>, taps, sigma.data_ptr<scalar_t>(),
               table.data_ptr<acc_t>(), taps, static_cast<int>(radius));
  return table;
}

template <typename scalar_t, typename acc_t, typename index_t>
__global__ void kernel_weights(const scalar_t* __restrict__ keys,
                               const scalar_t* __restrict__ temperature,
                               const acc_t* __restrict__ spatial, acc_t* __restrict__ weights,
                               index_t n, index_t depth, index_t height, index_t width,
                               int radius) {
  const int diameter = 2 * radius + 1, taps = diameter * diameter;
  const index_t plane = height * width;
  const acc_t tau = static_cast<acc_t>(*temperature);
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const index_t p = index % plane, b = index / plane;
    const scalar_t* keys_b = keys + b * depth * plane;
    acc_t* w_p = weights + b * taps * plane + p;
    for_each_window_tap<index_t>(p / width, p % width, height, width, radius, [&](int t, index_t q) {
      w_p[t * plane] = tau * key_dot<acc_t>(keys_b, p, q, depth, plane);
    });
    softmax_taps(w_p, plane, taps);
    jbu_normalise_taps(w_p, plane, spatial, taps);
  }
}

// Per pixel of [B, T, H, W]: W from R (grad_w null), or dR from (R, dW) and the pixel's
// d sigma share.
template <typename acc_t, typename index_t>
__global__ void kernel_pass(const acc_t* __restrict__ range, const acc_t* __restrict__ grad_w,
                            const acc_t* __restrict__ spatial, acc_t* __restrict__ dst,
                            acc_t* __restrict__ sigma_parts, index_t n, index_t plane, int taps) {
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const index_t p = (index / plane) * taps * plane + index % plane;
    if (grad_w == nullptr) {
      for (int t = 0; t < taps; ++t) dst[p + t * plane] = range[p + t * plane];
      jbu_normalise_taps(dst + p, plane, spatial, taps);
    } else {
      sigma_parts[index] = jbu_kernel_grads(range + p, grad_w + p, plane, spatial, taps, dst + p);
    }
  }
}

}  // namespace

Tensor jbu_upsample_cuda(const Tensor& source_padded, const Tensor& keys_any,
                         const Tensor& temperature, const Tensor& sigma, int64_t radius) {
  const c10::cuda::CUDAGuard guard(keys_any.device());
  const Tensor keys = keys_any.contiguous(), tau = temperature.contiguous();
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3), diameter = 2 * radius + 1;
  const auto acc_options = keys.options().dtype(at::toAccumulateType(keys.scalar_type(), true));
  Tensor weights = at::empty({batch, diameter * diameter, height, width}, acc_options);
  const int64_t n = batch * height * width;
  MMFEATUP_DISPATCH_CUDA(
      keys.scalar_type(), cuda::fits_int32({keys.numel(), weights.numel()}), "jbu_upsample_cuda",
      [&](auto index_tag) {
        using index_t = decltype(index_tag);
        const Tensor spatial = spatial_table<scalar_t, acc_t>(sigma.contiguous(), radius);
        cuda::launch(kernel_weights<scalar_t, acc_t, index_t>, n, keys.data_ptr<scalar_t>(),
                     tau.data_ptr<scalar_t>(), spatial.data_ptr<acc_t>(),
                     weights.data_ptr<acc_t>(), static_cast<index_t>(n),
                     static_cast<index_t>(depth), static_cast<index_t>(height),
                     static_cast<index_t>(width), static_cast<int>(radius));
      });
  return adaptive_conv_acc_weights_cuda(source_padded, weights);
}

std::tuple<Tensor, Tensor, Tensor, Tensor> jbu_upsample_backward_cuda(
    const Tensor& grad_output, const Tensor& source_padded, const Tensor& keys,
    const Tensor& temperature, const Tensor& sigma, int64_t radius) {
  const c10::cuda::CUDAGuard guard(keys.device());
  const auto state = at::toAccumulateType(keys.scalar_type(), true);
  const Tensor keys_s = keys.to(state).contiguous(), tau_s = temperature.to(state).contiguous();
  const Tensor range = range_kernel_cuda(keys_s, tau_s, radius);  // [B, T, H, W], state dtype
  const int64_t taps = range.size(1), plane = range.size(2) * range.size(3);
  const int64_t n = range.size(0) * plane;
  Tensor kernel = at::empty_like(range), grad_range = at::empty_like(range);
  Tensor sigma_parts = at::empty({n}, range.options());
  Tensor grad_source, grad_kernel;
  MMFEATUP_DISPATCH_CUDA(
      keys.scalar_type(), cuda::fits_int32({range.numel()}), "jbu_upsample_backward_cuda",
      [&](auto index_tag) {
        using index_t = decltype(index_tag);
        const Tensor spatial = spatial_table<scalar_t, acc_t>(sigma.contiguous(), radius);
        auto pass = [&](const Tensor& grad_w, Tensor& dst) {
          cuda::launch(kernel_pass<acc_t, index_t>, n, range.data_ptr<acc_t>(),
                       grad_w.defined() ? grad_w.data_ptr<acc_t>() : nullptr,
                       spatial.data_ptr<acc_t>(), dst.data_ptr<acc_t>(),
                       sigma_parts.data_ptr<acc_t>(), static_cast<index_t>(n),
                       static_cast<index_t>(plane), static_cast<int>(taps));
        };
        pass(Tensor(), kernel);
        // The feature gradient in the input dtype, with the kernel rounded to it.
        std::tie(grad_source, grad_kernel) = adaptive_conv_backward_cuda(
            grad_output, source_padded, kernel.to(source_padded.scalar_type()));
        grad_kernel = grad_kernel.to(state).contiguous();
        pass(grad_kernel, grad_range);
      });
  auto [grad_keys, grad_tau] = range_kernel_backward_cuda(grad_range, range, keys_s, tau_s, radius);
  return std::make_tuple(grad_source, grad_keys.to(keys.scalar_type()),
                         grad_tau.to(temperature.scalar_type()),
                         sigma_parts.sum().to(sigma.scalar_type()));
}

}  // namespace mmfeatup
