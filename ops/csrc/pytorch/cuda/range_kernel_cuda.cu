// CUDA kernels of mmfeatup::range_kernel; the arithmetic is ops/csrc/common/range_kernel_math.h,
// shared with the CPU kernels. One thread per pixel; the reflect padding is an index map and
// the forward recomputes the logits instead of storing them, so no padded or unfolded
// [B, D*T, H, W] tensor exists. The neighbour term of d keys is a gather over the reflect
// pre-images (deterministic, no atomics). float16/bfloat16 accumulate in float32; tau is
// read on the device (no host sync).
#include "cuda_helpers.cuh"
#include "range_kernel_math.h"
#include "reused_kernels.h"

namespace mmfeatup {
namespace {

using at::Tensor;

template <typename scalar_t, typename acc_t, typename index_t>
__global__ void forward_kernel(const scalar_t* __restrict__ keys,
                               const scalar_t* __restrict__ temperature,
                               scalar_t* __restrict__ out, index_t n, index_t depth,
                               index_t height, index_t width, int radius) {
  const int diameter = 2 * radius + 1, taps = diameter * diameter;
  const index_t plane = height * width;
  const acc_t tau = static_cast<acc_t>(*temperature);
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const index_t p = index % plane, b = index / plane;
    const scalar_t* keys_b = keys + b * depth * plane;
    auto logit = [&](index_t q) {
      return tau * key_dot<acc_t>(keys_b, p, q, depth, plane);
    };
    acc_t max_logit = -std::numeric_limits<acc_t>::infinity(), sum = 0;
    for_each_window_tap<index_t>(p / width, p % width, height, width, radius,
                                 [&](int, index_t q) { online_softmax_push(logit(q), max_logit, sum); });
    scalar_t* out_p = out + b * taps * plane + p;
    for_each_window_tap<index_t>(p / width, p % width, height, width, radius, [&](int t, index_t q) {
      out_p[t * plane] = static_cast<scalar_t>(softmax_prob(logit(q), max_logit, sum));
    });
  }
}

// Per pixel: dL_t (into dlogits [B,T,H,W]), the direct dK term (into direct [B,D,H,W]) and
// this pixel's share of dtau (into tau_parts [B*H*W]).
template <typename scalar_t, typename acc_t, typename index_t>
__global__ void backward_pixel_kernel(const scalar_t* __restrict__ grad,
                                      const scalar_t* __restrict__ out,
                                      const scalar_t* __restrict__ keys,
                                      const scalar_t* __restrict__ temperature,
                                      acc_t* __restrict__ dlogits, acc_t* __restrict__ direct,
                                      acc_t* __restrict__ tau_parts, index_t n, index_t depth,
                                      index_t height, index_t width, int radius) {
  const int diameter = 2 * radius + 1, taps = diameter * diameter;
  const index_t plane = height * width;
  const acc_t tau = static_cast<acc_t>(*temperature);
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const index_t p = index % plane, b = index / plane, y = p / width, x = p % width;
    const scalar_t* keys_b = keys + b * depth * plane;
    const index_t offset = b * taps * plane + p;
    acc_t* dl = dlogits + offset;
    // L_t first, overwritten in place by dL_t.
    for_each_window_tap<index_t>(y, x, height, width, radius, [&](int t, index_t q) {
      dl[t * plane] = key_dot<acc_t>(keys_b, p, q, depth, plane);
    });
    tau_parts[index] =
        softmax_logit_grads<acc_t>(out + offset, grad + offset, plane, dl, dl, plane, tau, taps);
    for (index_t d = 0; d < depth; ++d) {
      acc_t acc = 0;
      for_each_window_tap<index_t>(y, x, height, width, radius, [&](int t, index_t q) {
        acc += dl[t * plane] * static_cast<acc_t>(keys_b[d * plane + q]);
      });
      direct[b * depth * plane + d * plane + p] = acc;
    }
  }
}

// grad_keys[b,d,q] = direct[b,d,q] + sum over the (p, t) whose neighbour reflects onto q.
template <typename scalar_t, typename acc_t, typename index_t>
__global__ void backward_gather_kernel(const acc_t* __restrict__ dlogits,
                                       const acc_t* __restrict__ direct,
                                       const scalar_t* __restrict__ keys,
                                       scalar_t* __restrict__ grad_keys, index_t n,
                                       index_t depth, index_t height, index_t width, int radius) {
  const int diameter = 2 * radius + 1, taps = diameter * diameter;
  const index_t plane = height * width;
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const index_t q = index % plane, b = index / plane;
    const scalar_t* keys_b = keys + b * depth * plane;
    const acc_t* dl_b = dlogits + b * taps * plane;
    for (index_t d = 0; d < depth; ++d) {
      acc_t acc = direct[b * depth * plane + d * plane + q];
      for_each_tap_onto<index_t>(q / width, q % width, height, width, radius,
                                 [&](int t, index_t p) {
        acc += dl_b[t * plane + p] * static_cast<acc_t>(keys_b[d * plane + p]);
      });
      grad_keys[b * depth * plane + d * plane + q] = static_cast<scalar_t>(acc);
    }
  }
}

}  // namespace

Tensor range_kernel_cuda(const Tensor& keys_any, const Tensor& temperature, int64_t radius) {
  const c10::cuda::CUDAGuard guard(keys_any.device());
  const Tensor keys = keys_any.contiguous(), tau = temperature.contiguous();
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3), diameter = 2 * radius + 1;
  Tensor out = at::empty({batch, diameter * diameter, height, width}, keys.options());
  const int64_t n = batch * height * width;
  MMFEATUP_DISPATCH_CUDA(
      keys.scalar_type(), cuda::fits_int32({keys.numel(), out.numel()}), "range_kernel_cuda",
      [&](auto index_tag) {
        using index_t = decltype(index_tag);
        cuda::launch(forward_kernel<scalar_t, acc_t, index_t>, n, keys.data_ptr<scalar_t>(),
                     tau.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), static_cast<index_t>(n),
                     static_cast<index_t>(depth), static_cast<index_t>(height),
                     static_cast<index_t>(width), static_cast<int>(radius));
      });
  return out;
}

std::tuple<Tensor, Tensor> range_kernel_backward_cuda(const Tensor& grad_output,
                                                      const Tensor& output, const Tensor& keys_any,
                                                      const Tensor& temperature, int64_t radius) {
  const c10::cuda::CUDAGuard guard(keys_any.device());
  const Tensor keys = keys_any.contiguous(), tau = temperature.contiguous();
  const Tensor grad = grad_output.contiguous(), out = output.contiguous();
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3);
  const auto acc_options = keys.options().dtype(at::toAccumulateType(keys.scalar_type(), true));
  Tensor dlogits = at::empty(out.sizes(), acc_options);
  Tensor direct = at::empty(keys.sizes(), acc_options);
  Tensor tau_parts = at::empty({batch * height * width}, acc_options);
  Tensor grad_keys = at::empty(keys.sizes(), keys.options());
  const int64_t n = batch * height * width;
  MMFEATUP_DISPATCH_CUDA(
      keys.scalar_type(), cuda::fits_int32({keys.numel(), out.numel()}),
      "range_kernel_backward_cuda", [&](auto index_tag) {
        using index_t = decltype(index_tag);
        cuda::launch(backward_pixel_kernel<scalar_t, acc_t, index_t>, n,
                     grad.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                     keys.data_ptr<scalar_t>(), tau.data_ptr<scalar_t>(),
                     dlogits.data_ptr<acc_t>(), direct.data_ptr<acc_t>(),
                     tau_parts.data_ptr<acc_t>(), static_cast<index_t>(n),
                     static_cast<index_t>(depth), static_cast<index_t>(height),
                     static_cast<index_t>(width), static_cast<int>(radius));
        cuda::launch(backward_gather_kernel<scalar_t, acc_t, index_t>, n,
                     dlogits.data_ptr<acc_t>(), direct.data_ptr<acc_t>(),
                     keys.data_ptr<scalar_t>(), grad_keys.data_ptr<scalar_t>(),
                     static_cast<index_t>(n), static_cast<index_t>(depth),
                     static_cast<index_t>(height), static_cast<index_t>(width),
                     static_cast<int>(radius));
      });
  // Deterministic reduction of the per-pixel shares.
  Tensor grad_tau = tau_parts.sum().to(temperature.scalar_type());
  return std::make_tuple(grad_keys, grad_tau);
}

}  // namespace mmfeatup
