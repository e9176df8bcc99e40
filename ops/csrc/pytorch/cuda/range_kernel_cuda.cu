// CUDA kernels of mmfeatup::range_kernel. One thread per pixel; the reflect padding is an
// index map and the logits are recomputed instead of stored, so no padded or unfolded
// [B, D*T, H, W] tensor exists. Backward (Z = tau L, R = softmax_t Z):
//   dZ_t = R_t (g_t - sum_u g_u R_u), dL_t = tau dZ_t, dtau = sum dZ_t L_t,
//   dK[p] = sum_t dL_t[p] K[n_t(p)] + sum_{(p', t): n_t(p') = p} dL_t[p'] K[p'],
// the second sum as a gather over the reflect pre-images (deterministic, no atomics).
// float16/bfloat16 accumulate in float32; tau is read on the device (no host sync).
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

// <K[:, p], K[:, q]> for keys_b = keys of one batch element ([D, H*W]).
template <typename scalar_t, typename acc_t, typename index_t>
__device__ __forceinline__ acc_t key_dot(const scalar_t* __restrict__ keys_b, index_t p,
                                         index_t q, index_t depth, index_t plane) {
  acc_t acc = 0;
  for (index_t d = 0; d < depth; ++d) {
    acc += static_cast<acc_t>(keys_b[d * plane + p]) * static_cast<acc_t>(keys_b[d * plane + q]);
  }
  return acc;
}

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
    const index_t y = p / width, x = p % width;
    const scalar_t* keys_b = keys + b * depth * plane;
    // Online softmax normaliser.
    acc_t max_logit = -std::numeric_limits<acc_t>::infinity(), sum = 0;
    for (int i = 0; i < diameter; ++i) {
      const index_t ry = reflect_index(y + i - radius, height);
      for (int j = 0; j < diameter; ++j) {
        const index_t q = ry * width + reflect_index(x + j - radius, width);
        const acc_t z = tau * key_dot<scalar_t, acc_t, index_t>(keys_b, p, q, depth, plane);
        online_softmax_push<acc_t>(z, max_logit, sum);
      }
    }
    scalar_t* out_p = out + b * taps * plane + p;
    for (int i = 0; i < diameter; ++i) {
      const index_t ry = reflect_index(y + i - radius, height);
      for (int j = 0; j < diameter; ++j) {
        const index_t q = ry * width + reflect_index(x + j - radius, width);
        const acc_t z = tau * key_dot<scalar_t, acc_t, index_t>(keys_b, p, q, depth, plane);
        out_p[(i * diameter + j) * plane] = static_cast<scalar_t>(exp(z - max_logit) / sum);
      }
    }
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
    const index_t p = index % plane, b = index / plane;
    const index_t y = p / width, x = p % width;
    const scalar_t* keys_b = keys + b * depth * plane;
    const index_t offset = b * taps * plane + p;
    acc_t weighted = 0;
    for (int t = 0; t < taps; ++t) {
      weighted += static_cast<acc_t>(grad[offset + t * plane]) *
                  static_cast<acc_t>(out[offset + t * plane]);
    }
    acc_t tau_acc = 0;
    for (int i = 0; i < diameter; ++i) {
      const index_t ry = reflect_index(y + i - radius, height);
      for (int j = 0; j < diameter; ++j) {
        const index_t q = ry * width + reflect_index(x + j - radius, width);
        const int t = i * diameter + j;
        const acc_t r_t = static_cast<acc_t>(out[offset + t * plane]);
        const acc_t dz = r_t * (static_cast<acc_t>(grad[offset + t * plane]) - weighted);
        tau_acc += dz * key_dot<scalar_t, acc_t, index_t>(keys_b, p, q, depth, plane);
        dlogits[offset + t * plane] = tau * dz;
      }
    }
    tau_parts[index] = tau_acc;
    for (index_t d = 0; d < depth; ++d) {
      acc_t acc = 0;
      for (int i = 0; i < diameter; ++i) {
        const index_t ry = reflect_index(y + i - radius, height);
        for (int j = 0; j < diameter; ++j) {
          const index_t q = ry * width + reflect_index(x + j - radius, width);
          acc += dlogits[offset + (i * diameter + j) * plane] *
                 static_cast<acc_t>(keys_b[d * plane + q]);
        }
      }
      direct[b * depth * plane + d * plane + p] = acc;
    }
  }
}

// grad_keys[b,d,q] = direct[b,d,q] + sum over pixels p and taps t whose neighbour reflects to q.
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
    const index_t qy = q / width, qx = q % width;
    int64_t pre_y[3], pre_x[3];
    const int ny = reflect_preimages(qy, height, radius, pre_y);
    const int nx = reflect_preimages(qx, width, radius, pre_x);
    const scalar_t* keys_b = keys + b * depth * plane;
    const acc_t* dl_b = dlogits + b * taps * plane;
    for (index_t d = 0; d < depth; ++d) {
      acc_t acc = direct[b * depth * plane + d * plane + q];
      for (int a = 0; a < ny; ++a) {
        for (int i = 0; i < diameter; ++i) {
          const index_t py = static_cast<index_t>(pre_y[a]) - (i - radius);
          if (py < 0 || py >= height) continue;
          for (int c = 0; c < nx; ++c) {
            for (int j = 0; j < diameter; ++j) {
              const index_t px = static_cast<index_t>(pre_x[c]) - (j - radius);
              if (px < 0 || px >= width) continue;
              const index_t p = py * width + px;
              acc += dl_b[(i * diameter + j) * plane + p] *
                     static_cast<acc_t>(keys_b[d * plane + p]);
            }
          }
        }
      }
      grad_keys[b * depth * plane + d * plane + q] = static_cast<scalar_t>(acc);
    }
  }
}

}  // namespace

Tensor range_kernel_forward_cuda(const Tensor& keys, const Tensor& temperature, int64_t radius) {
  const c10::cuda::CUDAGuard guard(keys.device());
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3), diameter = 2 * radius + 1;
  Tensor out = at::empty({batch, diameter * diameter, height, width}, keys.options());
  const int64_t n = batch * height * width;
  const bool small = cuda::fits_int32({keys.numel(), out.numel()});
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, keys.scalar_type(), "range_kernel_forward_cuda", [&] {
        using acc_t = at::acc_type<scalar_t, true>;
        if (small) {
          forward_kernel<scalar_t, acc_t, int><<<cuda::num_blocks(n), cuda::kThreads, 0, stream>>>(
              keys.data_ptr<scalar_t>(), temperature.data_ptr<scalar_t>(),
              out.data_ptr<scalar_t>(), static_cast<int>(n), static_cast<int>(depth),
              static_cast<int>(height), static_cast<int>(width), static_cast<int>(radius));
        } else {
          forward_kernel<scalar_t, acc_t, int64_t>
              <<<cuda::num_blocks(n), cuda::kThreads, 0, stream>>>(
                  keys.data_ptr<scalar_t>(), temperature.data_ptr<scalar_t>(),
                  out.data_ptr<scalar_t>(), n, depth, height, width, static_cast<int>(radius));
        }
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
  return out;
}

std::tuple<Tensor, Tensor> range_kernel_backward_cuda(const Tensor& grad_output,
                                                      const Tensor& output, const Tensor& keys,
                                                      const Tensor& temperature, int64_t radius) {
  const c10::cuda::CUDAGuard guard(keys.device());
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3);
  const auto acc_options = keys.options().dtype(at::toAccumulateType(keys.scalar_type(), true));
  Tensor dlogits = at::empty(output.sizes(), acc_options);
  Tensor direct = at::empty(keys.sizes(), acc_options);
  Tensor tau_parts = at::empty({batch * height * width}, acc_options);
  Tensor grad_keys = at::empty(keys.sizes(), keys.options());
  const int64_t n = batch * height * width;
  const bool small = cuda::fits_int32({keys.numel(), output.numel()});
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, keys.scalar_type(), "range_kernel_backward_cuda", [&] {
        using acc_t = at::acc_type<scalar_t, true>;
        auto launch = [&](auto index_tag) {
          using index_t = decltype(index_tag);
          backward_pixel_kernel<scalar_t, acc_t, index_t>
              <<<cuda::num_blocks(n), cuda::kThreads, 0, stream>>>(
                  grad_output.data_ptr<scalar_t>(), output.data_ptr<scalar_t>(),
                  keys.data_ptr<scalar_t>(), temperature.data_ptr<scalar_t>(),
                  dlogits.data_ptr<acc_t>(), direct.data_ptr<acc_t>(), tau_parts.data_ptr<acc_t>(),
                  static_cast<index_t>(n), static_cast<index_t>(depth),
                  static_cast<index_t>(height), static_cast<index_t>(width),
                  static_cast<int>(radius));
          C10_CUDA_KERNEL_LAUNCH_CHECK();
          backward_gather_kernel<scalar_t, acc_t, index_t>
              <<<cuda::num_blocks(n), cuda::kThreads, 0, stream>>>(
                  dlogits.data_ptr<acc_t>(), direct.data_ptr<acc_t>(), keys.data_ptr<scalar_t>(),
                  grad_keys.data_ptr<scalar_t>(), static_cast<index_t>(n),
                  static_cast<index_t>(depth), static_cast<index_t>(height),
                  static_cast<index_t>(width), static_cast<int>(radius));
          C10_CUDA_KERNEL_LAUNCH_CHECK();
        };
        if (small) {
          launch(int(0));
        } else {
          launch(int64_t(0));
        }
      });
  // Deterministic reduction of the per-pixel shares.
  Tensor grad_tau = tau_parts.sum().to(temperature.scalar_type());
  return std::make_tuple(grad_keys, grad_tau);
}

}  // namespace mmfeatup
