// CPU kernels of mmfeatup::jbu_upsample; the arithmetic is ops/csrc/common/jbu_upsample_math.h
// (and range_kernel_math.h), shared with the CUDA kernels.
// Forward: range kernel, spatial kernel, normalisation and aggregation fused per pixel; only
// the [B, C, H, W] output is allocated, channels-last (plus channels-innermost copies of keys,
// and of source_padded unless it is channels-last).
// Backward: R = range_kernel, W per pixel, (d source, dW) = adaptive_conv_backward(g, U, W),
// dR and d sigma per pixel (jbu_kernel_grads), then range_kernel_backward(dR).
#include <ATen/Parallel.h>

#include <vector>

#include "cpu_helpers.h"
#include "jbu_upsample_math.h"
#include "range_logits.h"
#include "reused_kernels.h"

namespace mmfeatup {

namespace {

// S_t, then dS_t/dsigma (spatial_table_entry).
template <typename T>
std::vector<T> spatial_table(T sigma, int64_t radius) {
  const int taps = static_cast<int>((2 * radius + 1) * (2 * radius + 1));
  std::vector<T> table(2 * taps);
  for (int t = 0; t < taps; ++t) {
    spatial_table_entry<T>(t, static_cast<int>(radius), sigma, table.data());
  }
  return table;
}

template <typename T>
void fused_kernel(const T* src, const T* keys, T tau, T sigma, T* out, int64_t batch,
                  int64_t channels, int64_t depth, int64_t height, int64_t width, int64_t radius) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter, plane = height * width;
  const int64_t pw = width + 2 * radius, ph = height + 2 * radius;
  const std::vector<T> spatial = spatial_table<T>(sigma, radius);
  const std::vector<int64_t> offsets = cpu::window_offsets(radius, pw, channels);
  cpu::parallel_rows(
      batch, height, width * taps * (channels + depth), [&] { return cpu::LogitScratch<T>(taps); },
      [&](int64_t b, int64_t y, int64_t index, cpu::LogitScratch<T>& scratch) {
        const T* keys_b = keys + b * plane * depth;
        T* out_row = out + index * width * channels;  // channels-last output row
        for (int64_t x = 0; x < width; ++x) {
          cpu::pixel_logits(keys_b, y, x, height, width, depth, radius, tau, scratch.logits.data(),
                            scratch.offsets.data());
          softmax_taps<T, int64_t>(scratch.logits.data(), 1, static_cast<int>(taps));
          jbu_normalise_taps<T, int64_t>(scratch.logits.data(), 1, spatial.data(),
                                         static_cast<int>(taps));
          cpu::weighted_taps(out_row + x * channels, src + ((b * ph + y) * pw + x) * channels,
                             offsets.data(), scratch.logits.data(), taps, channels);
        }
      });
}

// Per row of [B, T, H, W] (contiguous), taps outer and pixels inner (vectorised), with the
// per-tap math of jbu_upsample_math.h: W from R (grad_w null), or dR from (R, dW) with the
// d sigma shares summed per row.
template <typename T>
void kernel_pass(const T* range, const T* grad_w, T* dst, double* sigma_rows, const T* spatial,
                 int64_t batch, int64_t taps, int64_t height, int64_t width) {
  const int64_t plane = height * width;
  using Rows = std::vector<std::vector<T>>;  // total, dot, 1/m, d total, d sigma per pixel
  cpu::parallel_rows(
      batch, height, width * taps, [&] { return Rows(5, std::vector<T>(width)); },
      [&](int64_t b, int64_t y, int64_t index, Rows& rows) {
        std::vector<T>&total = rows[0], &dot = rows[1], &inv = rows[2], &dtotal = rows[3];
        std::vector<T>& sigma = rows[4];
        const int64_t row = b * taps * plane + y * width;
        std::fill(total.begin(), total.end(), T(0));
        std::fill(dot.begin(), dot.end(), T(0));
        for (int64_t t = 0; t < taps; ++t) {
          const T* r = range + row + t * plane;
          const T s = spatial[t];
          if (grad_w == nullptr) {
            T* w = dst + row + t * plane;
            for (int64_t x = 0; x < width; ++x) total[x] += (w[x] = r[x] * s);
          } else {
            const T* dw = grad_w + row + t * plane;
            for (int64_t x = 0; x < width; ++x) {
              total[x] += r[x] * s;
              dot[x] += dw[x] * (r[x] * s);
            }
          }
        }
        for (int64_t x = 0; x < width; ++x) {
          const T m = jbu_floor(total[x]);
          inv[x] = T(1) / m;
          dtotal[x] = jbu_dtotal(total[x], dot[x], m);
          sigma[x] = T(0);
        }
        for (int64_t t = 0; t < taps; ++t) {
          T* out = dst + row + t * plane;
          if (grad_w == nullptr) {
            for (int64_t x = 0; x < width; ++x) out[x] *= inv[x];
          } else {
            const T* r = range + row + t * plane;
            const T* dw = grad_w + row + t * plane;
            const T s = spatial[t], ds = spatial[taps + t];
            for (int64_t x = 0; x < width; ++x) {
              const T da = jbu_da(dw[x], inv[x], dtotal[x]);
              sigma[x] += da * r[x] * ds;
              out[x] = da * s;
            }
          }
        }
        if (sigma_rows != nullptr) {
          double acc = 0.0;
          for (int64_t x = 0; x < width; ++x) acc += static_cast<double>(sigma[x]);
          sigma_rows[index] = acc;
        }
      });
}

}  // namespace

Tensor jbu_upsample_cpu(const Tensor& source_padded, const Tensor& keys,
                        const Tensor& temperature, const Tensor& sigma, int64_t radius) {
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3), channels = source_padded.size(1);
  const Tensor src = cpu::channels_innermost(source_padded);
  const Tensor k = cpu::channels_innermost(keys);
  Tensor out = at::empty({batch, channels, height, width},
                         source_padded.options().memory_format(at::MemoryFormat::ChannelsLast));
  AT_DISPATCH_FLOATING_TYPES(keys.scalar_type(), "jbu_upsample_cpu", [&] {
    fused_kernel<scalar_t>(src.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(),
                           temperature.item<scalar_t>(), sigma.item<scalar_t>(),
                           out.data_ptr<scalar_t>(), batch, channels, depth, height, width,
                           radius);
  });
  return out;
}

std::tuple<Tensor, Tensor, Tensor, Tensor> jbu_upsample_backward_cpu(
    const Tensor& grad_output, const Tensor& source_padded, const Tensor& keys,
    const Tensor& temperature, const Tensor& sigma, int64_t radius) {
  const int64_t batch = keys.size(0), height = keys.size(2), width = keys.size(3);
  const int64_t taps = (2 * radius + 1) * (2 * radius + 1);
  const Tensor range = range_kernel_cpu(keys, temperature, radius);  // contiguous
  Tensor kernel = at::empty_like(range), grad_range = at::empty_like(range);
  Tensor grad_source, grad_kernel;
  std::vector<double> sigma_rows(batch * height, 0.0);
  AT_DISPATCH_FLOATING_TYPES(keys.scalar_type(), "jbu_upsample_backward_cpu", [&] {
    const std::vector<scalar_t> spatial = spatial_table<scalar_t>(sigma.item<scalar_t>(), radius);
    kernel_pass<scalar_t>(range.data_ptr<scalar_t>(), nullptr, kernel.data_ptr<scalar_t>(),
                          nullptr, spatial.data(), batch, taps, height, width);
    std::tie(grad_source, grad_kernel) =
        adaptive_conv_backward_cpu(grad_output, source_padded, kernel);
    kernel_pass<scalar_t>(range.data_ptr<scalar_t>(), grad_kernel.data_ptr<scalar_t>(),
                          grad_range.data_ptr<scalar_t>(), sigma_rows.data(), spatial.data(),
                          batch, taps, height, width);
  });
  auto [grad_keys, grad_tau] =
      range_kernel_backward_cpu(grad_range, range, keys, temperature, radius);
  double grad_sigma = 0.0;
  for (double value : sigma_rows) grad_sigma += value;
  return std::make_tuple(grad_source, grad_keys, grad_tau,
                         at::full({}, grad_sigma, sigma.options()));
}

}  // namespace mmfeatup
