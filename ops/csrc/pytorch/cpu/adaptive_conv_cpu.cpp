// CPU kernels of mmfeatup::adaptive_conv (forward and both gradients).
//
// Internally channels-innermost: the input (and grad_output) are read as [B, H, W, C]
// (transposed once, or used as they are when already channels-last), so every inner loop
// is a contiguous loop over channels with a scalar tap weight. The forward accumulates a
// block of channels over all taps in registers and writes a channels-last output (the
// fake kernel in mmfeatup/ops/library.py states the same layout for CPU tensors); the
// backward collects each row of the input gradient in a thread-local [W, C] buffer and
// transposes it on write (contiguous). Parallel over batch * rows with at::parallel_for.
// The input gradient is a gather over output pixels: deterministic, no atomics.
#include <ATen/Parallel.h>

#include <vector>

#include "adaptive_conv_math.h"
#include "cpu_helpers.h"
#include "reused_kernels.h"

namespace mmfeatup {
namespace {

template <typename T>
void forward_kernel(const T* in, const T* weights, T* out, int64_t batch, int64_t channels,
                    int64_t height, int64_t width, int64_t radius) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter;
  const int64_t pw = width + 2 * radius, ph = height + 2 * radius, plane = height * width;
  // Tap t = (i, j) reads the padded input at a fixed offset from the window's corner.
  const std::vector<int64_t> offsets = cpu::window_offsets(radius, pw, channels);
  using Pair = std::pair<std::vector<T>, std::vector<T>>;
  cpu::parallel_rows(
      batch, height, width * taps * channels, [&] { return Pair(taps, taps); },
      [&](int64_t b, int64_t y, int64_t index, Pair& scratch) {
        std::vector<T>&w0 = scratch.first, &w1 = scratch.second;
        const T* w_b = weights + b * taps * plane + y * width;
        T* out_row = out + index * width * channels;  // channels-last output row
        const T* in_row = in + (b * ph + y) * pw * channels;
        int64_t x = 0;
        for (; x + 1 < width; x += 2) {  // pixel pairs share their overlapping window columns
          for (int64_t t = 0; t < taps; ++t) {
            w0[t] = w_b[t * plane + x];
            w1[t] = w_b[t * plane + x + 1];
          }
          cpu::weighted_window_pair(out_row + x * channels, out_row + (x + 1) * channels,
                                    in_row + x * channels, offsets.data(), channels, w0.data(),
                                    w1.data(), diameter, channels);
        }
        if (x < width) {
          for (int64_t t = 0; t < taps; ++t) w0[t] = w_b[t * plane + x];
          cpu::weighted_taps(out_row + x * channels, in_row + x * channels, offsets.data(),
                             w0.data(), taps, channels);
        }
      });
}

template <typename T>
void grad_weights_kernel(const T* grad, const T* in, T* grad_w, int64_t batch, int64_t channels,
                         int64_t height, int64_t width, int64_t radius) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter;
  const int64_t pw = width + 2 * radius, ph = height + 2 * radius, plane = height * width;
  const std::vector<int64_t> offsets = cpu::window_offsets(radius, pw, channels);
  cpu::parallel_rows(
      batch, height, width * taps * channels, [&] { return std::vector<T>(taps); },
      [&](int64_t b, int64_t y, int64_t, std::vector<T>& dots) {
        T* gw_b = grad_w + b * taps * plane + y * width;
        for (int64_t x = 0; x < width; ++x) {
          const T* g = grad + ((b * height + y) * width + x) * channels;
          cpu::tap_dots(dots.data(), g, in + ((b * ph + y) * pw + x) * channels, offsets.data(),
                        taps, channels);
          for (int64_t t = 0; t < taps; ++t) gw_b[t * plane + x] = dots[t];
        }
      });
}

// grad_input[b,c,Y,X] = sum_{i,j} weights[b,t,Y-i,X-j] * grad[b,c,Y-i,X-j] (valid positions only):
// per padded pixel the readers (for_each_reader) are collected, then one weighted_taps call sums
// them with the channels in registers.
template <typename T>
struct ReaderScratch {
  ReaderScratch(int64_t pw, int64_t channels, int64_t taps)
      : row(pw * channels), offsets(taps), weights(taps) {}
  std::vector<T> row;
  std::vector<int64_t> offsets;
  std::vector<T> weights;
};

template <typename T>
void grad_input_kernel(const T* grad, const T* weights, T* grad_in, int64_t batch,
                       int64_t channels, int64_t height, int64_t width, int64_t radius) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter;
  const int64_t pw = width + 2 * radius, ph = height + 2 * radius, plane = height * width;
  cpu::parallel_rows(
      batch, ph, pw * taps * channels, [&] { return ReaderScratch<T>(pw, channels, taps); },
      [&](int64_t b, int64_t py, int64_t, ReaderScratch<T>& s) {
        const T* w_b = weights + b * taps * plane;
        const T* g_b = grad + b * plane * channels;
        for (int64_t px = 0; px < pw; ++px) {
          int64_t readers = 0;
          for_each_reader<int64_t>(py, px, height, width, diameter,
                                   [&](int t, int64_t y, int64_t x) {
            s.offsets[readers] = (y * width + x) * channels;
            s.weights[readers] = w_b[t * plane + y * width + x];
            ++readers;
          });
          cpu::weighted_taps(s.row.data() + px * channels, g_b, s.offsets.data(),
                             s.weights.data(), readers, channels);
        }
        cpu::transpose_row(grad_in + (b * channels * ph + py) * pw, s.row.data(), pw, channels,
                           ph * pw);
      });
}

}  // namespace

Tensor adaptive_conv_cpu(const Tensor& input, const Tensor& weights_any) {
  const Tensor weights = weights_any.contiguous();
  const int64_t batch = input.size(0), channels = input.size(1);
  const int64_t height = weights.size(2), width = weights.size(3);
  const int64_t radius = (input.size(2) - height) / 2;
  const Tensor in = cpu::channels_innermost(input);
  Tensor out = at::empty({batch, channels, height, width},
                         input.options().memory_format(at::MemoryFormat::ChannelsLast));
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "adaptive_conv_forward_cpu", [&] {
    forward_kernel<scalar_t>(in.data_ptr<scalar_t>(), weights.data_ptr<scalar_t>(),
                             out.data_ptr<scalar_t>(), batch, channels, height, width, radius);
  });
  return out;
}

std::tuple<Tensor, Tensor> adaptive_conv_backward_cpu(const Tensor& grad_output,
                                                      const Tensor& input,
                                                      const Tensor& weights_any) {
  const Tensor weights = weights_any.contiguous();
  const int64_t batch = input.size(0), channels = input.size(1);
  const int64_t height = weights.size(2), width = weights.size(3);
  const int64_t radius = (input.size(2) - height) / 2;
  const Tensor in = cpu::channels_innermost(input);
  const Tensor grad = cpu::channels_innermost(grad_output);
  Tensor grad_input = at::empty(input.sizes(), input.options());  // contiguous
  Tensor grad_weights = at::empty_like(weights);
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "adaptive_conv_backward_cpu", [&] {
    grad_weights_kernel<scalar_t>(grad.data_ptr<scalar_t>(), in.data_ptr<scalar_t>(),
                                  grad_weights.data_ptr<scalar_t>(), batch, channels, height,
                                  width, radius);
    grad_input_kernel<scalar_t>(grad.data_ptr<scalar_t>(), weights.data_ptr<scalar_t>(),
                                grad_input.data_ptr<scalar_t>(), batch, channels, height, width,
                                radius);
  });
  return std::make_tuple(grad_input, grad_weights);
}

}  // namespace mmfeatup
