// CPU kernel of mmfeatup::jbu_upsample: range kernel, spatial kernel, normalisation and
// aggregation fused per pixel; only the [B, C, H, W] output is allocated, channels-last
// (plus channels-innermost copies of keys, and of source_padded unless it is channels-last).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu_helpers.h"
#include "jbu_math.h"
#include "mmfeatup_ops.h"
#include "range_logits.h"

namespace mmfeatup {
namespace {

template <typename T>
void fused_kernel(const T* src, const T* keys, T tau, T sigma, T* out, int64_t batch,
                  int64_t channels, int64_t depth, int64_t height, int64_t width, int64_t radius) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter, plane = height * width;
  const int64_t pw = width + 2 * radius, ph = height + 2 * radius;
  std::vector<T> spatial(taps);
  for (int64_t i = 0; i < diameter; ++i) {
    for (int64_t j = 0; j < diameter; ++j) {
      spatial[i * diameter + j] = spatial_weight<T>(i - radius, j - radius, radius, sigma);
    }
  }
  const std::vector<int64_t> offsets = cpu::window_offsets(radius, pw, channels);
  const int64_t grain = cpu::row_grain(width * taps * (channels + depth));
  at::parallel_for(0, batch * height, grain, [&](int64_t begin, int64_t end) {
    std::vector<T> kernel(taps);
    std::vector<int64_t> key_offsets(taps);
    for (int64_t index = begin; index < end; ++index) {
      const int64_t b = index / height, y = index % height;
      const T* keys_b = keys + b * plane * depth;
      T* out_row = out + index * width * channels;  // channels-last output row
      for (int64_t x = 0; x < width; ++x) {
        const T max_logit = cpu::pixel_logits(keys_b, y, x, height, width, depth, radius, tau,
                                               kernel.data(), key_offsets.data());
        T sum = T(0);
        for (int64_t t = 0; t < taps; ++t) {
          kernel[t] = std::exp(kernel[t] - max_logit);
          sum += kernel[t];
        }
        T total = T(0);
        for (int64_t t = 0; t < taps; ++t) {
          kernel[t] = kernel[t] / sum * spatial[t];  // softmax, then x spatial
          total += kernel[t];
        }
        const T inv = T(1) / std::max(total, static_cast<T>(kJbuEps));
        for (int64_t t = 0; t < taps; ++t) kernel[t] *= inv;
        cpu::weighted_taps(out_row + x * channels, src + ((b * ph + y) * pw + x) * channels,
                           offsets.data(), kernel.data(), taps, channels);
      }
    }
  });
}

}  // namespace

Tensor jbu_upsample_forward_cpu(const Tensor& source_padded, const Tensor& keys,
                                const Tensor& temperature, const Tensor& sigma, int64_t radius) {
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3), channels = source_padded.size(1);
  const Tensor src = channels_innermost(source_padded);
  const Tensor k = channels_innermost(keys);
  Tensor out = at::empty({batch, channels, height, width},
                         source_padded.options().memory_format(at::MemoryFormat::ChannelsLast));
  AT_DISPATCH_FLOATING_TYPES(keys.scalar_type(), "jbu_upsample_forward_cpu", [&] {
    fused_kernel<scalar_t>(src.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(),
                           *temperature.data_ptr<scalar_t>(), *sigma.data_ptr<scalar_t>(),
                           out.data_ptr<scalar_t>(), batch, channels, depth, height, width,
                           radius);
  });
  return out;
}

}  // namespace mmfeatup
