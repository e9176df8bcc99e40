// CPU kernels of mmfeatup::range_kernel (forward and gradients for keys and tau).
//
// The keys are transposed once to channels-innermost [B, H, W, D]; a tap's logit is a
// contiguous dot product over D. The reflect padding is an index map (reflect_index),
// so neither a padded nor an unfolded [B, D*T, H, W] tensor is ever built.
// Backward, with Z = tau * L and R = softmax_t(Z):
//   dZ_t = R_t (g_t - sum_u g_u R_u),  dL_t = tau dZ_t,  dtau = sum dZ_t L_t  (L recomputed)
//   dK[p]      += sum_t dL_t[p] K[n_t(p)]          (direct term)
//   dK[n_t(p)] += dL_t[p] K[p]                      (neighbour term, computed as a gather
//                                                    over the reflect pre-images: no atomics)
#include <ATen/Parallel.h>

#include <cmath>
#include <limits>
#include <vector>

#include "cpu_helpers.h"
#include "jbu_math.h"
#include "mmfeatup_ops.h"
#include "range_logits.h"

namespace mmfeatup {
namespace {

// In place: logits -> softmax(logits).
template <typename T>
inline void softmax_inplace(T* values, int64_t n, T max_value) {
  T sum = T(0);
  for (int64_t t = 0; t < n; ++t) {
    values[t] = std::exp(values[t] - max_value);
    sum += values[t];
  }
  const T inv = T(1) / sum;
  for (int64_t t = 0; t < n; ++t) values[t] *= inv;
}

template <typename T>
void forward_kernel(const T* keys, T tau, T* out, int64_t batch, int64_t depth, int64_t height,
                    int64_t width, int64_t radius) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter, plane = height * width;
  const int64_t grain = cpu::row_grain(width * taps * depth);
  at::parallel_for(0, batch * height, grain, [&](int64_t begin, int64_t end) {
    std::vector<T> logits(taps);
    std::vector<int64_t> offsets(taps);
    for (int64_t index = begin; index < end; ++index) {
      const int64_t b = index / height, y = index % height;
      const T* keys_b = keys + b * plane * depth;
      T* out_row = out + b * taps * plane + y * width;
      for (int64_t x = 0; x < width; ++x) {
        const T max_logit =
            cpu::pixel_logits(keys_b, y, x, height, width, depth, radius, tau, logits.data(),
                              offsets.data());
        softmax_inplace(logits.data(), taps, max_logit);
        for (int64_t t = 0; t < taps; ++t) out_row[t * plane + x] = logits[t];
      }
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
  const int64_t grain = cpu::row_grain(width * taps * depth);
  at::parallel_for(0, batch * height, grain, [&](int64_t begin, int64_t end) {
    std::vector<T> logits(taps);
    std::vector<int64_t> offsets(taps);
    for (int64_t index = begin; index < end; ++index) {
      const int64_t b = index / height, y = index % height;
      const T* keys_b = keys + b * plane * depth;
      const int64_t row_offset = b * taps * plane + y * width;
      double tau_acc = 0.0;
      for (int64_t x = 0; x < width; ++x) {
        cpu::pixel_logits(keys_b, y, x, height, width, depth, radius, T(1), logits.data(),
                          offsets.data());
        T weighted = T(0);
        for (int64_t t = 0; t < taps; ++t) {
          weighted += grad[row_offset + t * plane + x] * out[row_offset + t * plane + x];
        }
        T* acc = direct.data() + ((b * height + y) * width + x) * depth;
        std::fill(acc, acc + depth, T(0));
        for (int64_t i = 0; i < diameter; ++i) {
          const int64_t ry = reflect_index(y + i - radius, height);
          for (int64_t j = 0; j < diameter; ++j) {
            const int64_t rx = reflect_index(x + j - radius, width);
            const int64_t t = i * diameter + j;
            const T r_t = out[row_offset + t * plane + x];
            const T dz = r_t * (grad[row_offset + t * plane + x] - weighted);
            tau_acc += static_cast<double>(dz * logits[t]);
            const T dl = tau * dz;
            dlogits[row_offset + t * plane + x] = dl;
            cpu::axpy(acc, keys_b + (ry * width + rx) * depth, dl, depth);
          }
        }
      }
      tau_rows[index] = tau_acc;
    }
  });
  // Neighbour term, gathered at each real pixel q over the padded positions reflecting onto it.
  at::parallel_for(0, batch * height, grain, [&](int64_t begin, int64_t end) {
    std::vector<T> row(width * depth);
    int64_t pre_y[3], pre_x[3];
    for (int64_t index = begin; index < end; ++index) {
      const int64_t b = index / height, qy = index % height;
      const T* keys_b = keys + b * plane * depth;
      const T* dl_b = dlogits.data() + b * taps * plane;
      const int ny = reflect_preimages(qy, height, radius, pre_y);
      for (int64_t qx = 0; qx < width; ++qx) {
        T* acc = row.data() + qx * depth;
        const T* direct_q = direct.data() + ((b * height + qy) * width + qx) * depth;
        std::copy(direct_q, direct_q + depth, acc);
        const int nx = reflect_preimages(qx, width, radius, pre_x);
        for (int a = 0; a < ny; ++a) {
          for (int64_t i = 0; i < diameter; ++i) {
            const int64_t py = pre_y[a] - (i - radius);
            if (py < 0 || py >= height) continue;
            for (int c = 0; c < nx; ++c) {
              for (int64_t j = 0; j < diameter; ++j) {
                const int64_t px = pre_x[c] - (j - radius);
                if (px < 0 || px >= width) continue;
                const T dl = dl_b[(i * diameter + j) * plane + py * width + px];
                cpu::axpy(acc, keys_b + (py * width + px) * depth, dl, depth);
              }
            }
          }
        }
      }
      cpu::transpose_row(grad_keys + b * depth * plane + qy * width, row.data(), width, depth,
                         plane);
    }
  });
  double total = 0.0;
  for (double value : tau_rows) total += value;
  *grad_tau = total;
}

}  // namespace

Tensor range_kernel_forward_cpu(const Tensor& keys, const Tensor& temperature, int64_t radius) {
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3);
  const int64_t diameter = 2 * radius + 1;
  const Tensor k = channels_innermost(keys);
  Tensor out = at::empty({batch, diameter * diameter, height, width}, keys.options());
  AT_DISPATCH_FLOATING_TYPES(keys.scalar_type(), "range_kernel_forward_cpu", [&] {
    forward_kernel<scalar_t>(k.data_ptr<scalar_t>(), *temperature.data_ptr<scalar_t>(),
                             out.data_ptr<scalar_t>(), batch, depth, height, width, radius);
  });
  return out;
}

std::tuple<Tensor, Tensor> range_kernel_backward_cpu(const Tensor& grad_output,
                                                     const Tensor& output, const Tensor& keys,
                                                     const Tensor& temperature, int64_t radius) {
  const int64_t batch = keys.size(0), depth = keys.size(1);
  const int64_t height = keys.size(2), width = keys.size(3);
  const Tensor k = channels_innermost(keys);
  Tensor grad_keys = at::empty(keys.sizes(), keys.options());  // contiguous, like the fake
  double grad_tau = 0.0;
  AT_DISPATCH_FLOATING_TYPES(keys.scalar_type(), "range_kernel_backward_cpu", [&] {
    backward_kernel<scalar_t>(grad_output.data_ptr<scalar_t>(), output.data_ptr<scalar_t>(),
                              k.data_ptr<scalar_t>(), *temperature.data_ptr<scalar_t>(),
                              grad_keys.data_ptr<scalar_t>(), &grad_tau, batch, depth, height,
                              width, radius);
  });
  return std::make_tuple(grad_keys, at::full({}, grad_tau, temperature.options()));
}

}  // namespace mmfeatup
