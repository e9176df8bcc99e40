// CUDA kernel of mmfeatup::bicubic_adaptive_conv (forward; the backward is the composite in
// ../bicubic_adaptive_conv.cpp): one thread per output element (b, c, y, x) sums its d x d
// taps of the padded bicubic map, each from its 4 x 4 source pixels (bicubic_padded_taps, the
// arithmetic the CPU kernel composes into its filters). float16/bfloat16 accumulate in float32
// (coefficients too, as PyTorch's resize). One launch for the whole batch on the current
// stream; 64-bit indexing when a tensor has 2^31 elements or more.
#include "bicubic_adaptive_conv_math.h"
#include "cuda_helpers.cuh"

namespace mmfeatup {
namespace {

using at::Tensor;

template <typename scalar_t, typename acc_t, typename index_t>
__global__ void forward_kernel(const scalar_t* __restrict__ source,
                               const scalar_t* __restrict__ weights, scalar_t* __restrict__ out,
                               index_t n, index_t channels, index_t in_h, index_t in_w,
                               index_t height, index_t width, int radius) {
  const int diameter = 2 * radius + 1;
  const index_t plane = height * width;
  const acc_t scale_h = bicubic_scale<acc_t, index_t>(in_h, height);
  const acc_t scale_w = bicubic_scale<acc_t, index_t>(in_w, width);
  MMFEATUP_CUDA_LOOP(index, n, index_t) {
    const auto [b, c, y, x] = cuda::unravel_nchw<index_t>(index, channels, height, width);
    const scalar_t* src = source + (b * channels + c) * in_h * in_w;
    const scalar_t* w = weights + b * diameter * diameter * plane + y * width + x;
    acc_t acc = 0;
    for (int i = 0; i < diameter; ++i) {
      index_t rows[4];
      acc_t row_coef[4];
      bicubic_padded_taps<acc_t, index_t>(y + i, radius, in_h, height, scale_h, rows, row_coef);
      for (int j = 0; j < diameter; ++j) {
        index_t cols[4];
        acc_t col_coef[4];
        bicubic_padded_taps<acc_t, index_t>(x + j, radius, in_w, width, scale_w, cols, col_coef);
        acc_t value = 0;
        for (int k = 0; k < 4; ++k) {
          const scalar_t* src_row = src + rows[k] * in_w;
          acc_t row_value = 0;
          for (int l = 0; l < 4; ++l) {
            row_value += col_coef[l] * static_cast<acc_t>(src_row[cols[l]]);
          }
          value += row_coef[k] * row_value;
        }
        acc += static_cast<acc_t>(w[(i * diameter + j) * plane]) * value;
      }
    }
    out[index] = static_cast<scalar_t>(acc);
  }
}

}  // namespace

Tensor bicubic_adaptive_conv_cuda(const Tensor& source_any, const Tensor& weights_any) {
  const c10::cuda::CUDAGuard guard(source_any.device());
  const Tensor source = source_any.contiguous(), weights = weights_any.contiguous();
  const int64_t channels = source.size(1), height = weights.size(2), width = weights.size(3);
  int diameter = 1;
  while (diameter * diameter < weights.size(1)) diameter += 2;
  Tensor out = at::empty({source.size(0), channels, height, width}, source.options());
  const int64_t n = out.numel();
  MMFEATUP_DISPATCH_CUDA(
      source.scalar_type(), cuda::fits_int32({source.numel(), weights.numel(), n}),
      "bicubic_adaptive_conv_cuda", [&](auto index_tag) {
        using index_t = decltype(index_tag);
        cuda::launch(forward_kernel<scalar_t, acc_t, index_t>, n, source.data_ptr<scalar_t>(),
                     weights.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                     static_cast<index_t>(n), static_cast<index_t>(channels),
                     static_cast<index_t>(source.size(2)), static_cast<index_t>(source.size(3)),
                     static_cast<index_t>(height), static_cast<index_t>(width), diameter / 2);
      });
  return out;
}

}  // namespace mmfeatup
