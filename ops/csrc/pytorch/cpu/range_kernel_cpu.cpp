// CPU kernels of mmfeatup::range_kernel (forward and gradients for keys and tau); the
// arithmetic is ops/csrc/common/range_kernel_math.h, shared with the CUDA kernels.
//
// The forward reads the planar keys [B, D, H, W] a row at a time (a tap's logits over a row
// are one vectorised row_dots); the backward transposes them once to channels-innermost
// [B, H, W, D] (a tap's logit is a contiguous dot product over D). Both are SIMD clones
// (cpu_helpers.cpp). The reflect padding is an index map (plus one padded neighbour row in the
// forward), so neither a padded nor an unfolded [B, D*T, H, W] tensor is ever built.
// The neighbour term of d keys is a gather over the reflect pre-images: no atomics.
#include <ATen/Parallel.h>

#include <vector>

#include "cpu_helpers.h"
#include "range_kernel_math.h"
#include "range_logits.h"
#include "reused_kernels.h"

namespace mmfeatup {
namespace {

// Forward, one output row per task, on the planar keys [B, D, H, W]: for each tap t = (i, j)
// the row of logits tau * <K[:, y, x], K[:, reflect(y+i-r), reflect(x+j-r)]> over all x is one
// row_dots call against the neighbour row, reflect-padded once per i into a [D, W + 2r] buffer.
// The [T, W] logits of the row stay in a task buffer for the per-pixel softmax (softmax_taps,
// stride W: the output's tap planes are a multiple of 4 KiB apart at common sizes, and a
// pixel's softmax across them thrashed the cache), then each tap's row is copied out.
template <typename T>
struct RowScratch {
  RowScratch(int64_t depth, int64_t padded_width, int64_t taps, int64_t width)
      : neighbours(depth * padded_width), logits(taps * width) {}
  std::vector<T> neighbours, logits;
};

template <typename T>
void forward_kernel(const T* keys, T tau, T* out, int64_t batch, int64_t depth, int64_t height,
                    int64_t width, int64_t radius) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter, plane = height * width;
  const int64_t padded_width = width + 2 * radius;
  cpu::parallel_rows(
      batch, height, width * taps * depth,
      [&] { return RowScratch<T>(depth, padded_width, taps, width); },
      [&](int64_t b, int64_t y, int64_t, RowScratch<T>& s) {
        const T* keys_b = keys + b * depth * plane;
        for (int64_t i = 0; i < diameter; ++i) {
          const int64_t row = reflect_index<int64_t>(y + i - radius, height);
          for (int64_t k = 0; k < depth; ++k) {
            const T* src = keys_b + k * plane + row * width;
            T* dst = s.neighbours.data() + k * padded_width;
            for (int64_t x = 0; x < padded_width; ++x) {
              dst[x] = src[reflect_index<int64_t>(x - radius, width)];
            }
          }
          for (int64_t j = 0; j < diameter; ++j) {
            cpu::row_dots(s.logits.data() + (i * diameter + j) * width, keys_b + y * width, plane,
                          s.neighbours.data() + j, padded_width, depth, tau, width);
          }
        }
        for (int64_t x = 0; x < width; ++x) {
          softmax_taps<T, int64_t>(s.logits.data() + x, width, static_cast<int>(taps));
        }
        T* out_row = out + b * taps * plane + y * width;
        for (int64_t t = 0; t < taps; ++t) {
          std::copy_n(s.logits.data() + t * width, width, out_row + t * plane);
        }
      });
}

template <typename T>
void backward_kernel(const T* grad, const T* out, const T* keys, T tau, T* grad_keys,
                     double* grad_tau, int64_t batch, int64_t depth, int64_t height, int64_t width,
                     int64_t radius) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter, plane = height * width;
  // dL_t per pixel [B, T, H, W] and the direct dK term [B, H, W, D].
  std::vector<T> dlogits(batch * taps * plane);
  std::vector<T> direct(batch * plane * depth);
  std::vector<double> tau_rows(batch * height, 0.0);
  cpu::parallel_rows(
      batch, height, width * taps * depth, [&] { return cpu::LogitScratch<T>(taps); },
      [&](int64_t b, int64_t y, int64_t index, cpu::LogitScratch<T>& scratch) {
        const T* keys_b = keys + b * plane * depth;
        const int64_t row_offset = b * taps * plane + y * width;
        double tau_acc = 0.0;
        for (int64_t x = 0; x < width; ++x) {
          cpu::pixel_logits(keys_b, y, x, height, width, depth, radius, T(1), scratch.logits.data(),
                            scratch.offsets.data());
          const T* r = out + row_offset + x;
          const T* g = grad + row_offset + x;
          const T weighted = softmax_grad_dot<T>(r, g, plane, static_cast<int>(taps));
          T* acc = direct.data() + ((b * height + y) * width + x) * depth;
          std::fill(acc, acc + depth, T(0));
          for (int64_t t = 0; t < taps; ++t) {
            const T dz = softmax_dz<T>(r[t * plane], g[t * plane], weighted);
            tau_acc += static_cast<double>(dz * scratch.logits[t]);
            const T dl = tau * dz;
            dlogits[row_offset + t * plane + x] = dl;
            cpu::axpy(acc, keys_b + scratch.offsets[t], dl, depth);
          }
        }
        tau_rows[index] = tau_acc;
      });
  // Neighbour term, gathered at each real pixel q over the pixels whose taps reflect onto it.
  cpu::parallel_rows(
      batch, height, width * taps * depth, [&] { return std::vector<T>(width * depth); },
      [&](int64_t b, int64_t qy, int64_t index, std::vector<T>& row) {
        const T* keys_b = keys + b * plane * depth;
        const T* dl_b = dlogits.data() + b * taps * plane;
        for (int64_t qx = 0; qx < width; ++qx) {
          T* acc = row.data() + qx * depth;
          const T* direct_q = direct.data() + ((b * height + qy) * width + qx) * depth;
          std::copy(direct_q, direct_q + depth, acc);
          for_each_tap_onto<int64_t>(qy, qx, height, width, static_cast<int>(radius),
                                     [&](int t, int64_t p) {
            cpu::axpy(acc, keys_b + p * depth, dl_b[t * plane + p], depth);
          });
        }
        cpu::transpose_row(grad_keys + b * depth * plane + qy * width, row.data(), width, depth,
                           plane);
      });
  double total = 0.0;
  for (double value : tau_rows) total += value;
  *grad_tau = total;
}

}  // namespace

Tensor range_kernel_cpu(const Tensor& keys, const Tensor& temperature, int64_t radius) {
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3);
  const int64_t diameter = 2 * radius + 1;
  const Tensor k = keys.contiguous();  // planar, as the forward reads it
  Tensor out = at::empty({batch, diameter * diameter, height, width}, keys.options());
  AT_DISPATCH_FLOATING_TYPES(keys.scalar_type(), "range_kernel_cpu", [&] {
    forward_kernel<scalar_t>(k.data_ptr<scalar_t>(), temperature.item<scalar_t>(),
                             out.data_ptr<scalar_t>(), batch, depth, height, width, radius);
  });
  return out;
}

std::tuple<Tensor, Tensor> range_kernel_backward_cpu(const Tensor& grad_output,
                                                     const Tensor& output, const Tensor& keys,
                                                     const Tensor& temperature, int64_t radius) {
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3);
  const Tensor k = cpu::channels_innermost(keys);
  const Tensor g = grad_output.contiguous(), out = output.contiguous();
  Tensor grad_keys = at::empty(keys.sizes(), keys.options());  // contiguous, like the fake
  double grad_tau = 0.0;
  AT_DISPATCH_FLOATING_TYPES(keys.scalar_type(), "range_kernel_backward_cpu", [&] {
    backward_kernel<scalar_t>(g.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                              k.data_ptr<scalar_t>(), temperature.item<scalar_t>(),
                              grad_keys.data_ptr<scalar_t>(), &grad_tau, batch, depth, height,
                              width, radius);
  });
  return std::make_tuple(grad_keys, at::full({}, grad_tau, temperature.options()));
}

}  // namespace mmfeatup
