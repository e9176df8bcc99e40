// Shared arithmetic of mmfeatup::range_kernel, for the CPU loops and the CUDA kernels
// (and the host-compiled test tests/test_ops/host_kernel_math.cpp).
//
// Conventions (docs/design.md, sections 1-2): radius r, diameter d = 2r+1, taps T = d*d,
// tap t = (i, j) row-major, t = i*d + j; the tap's offset is (i - r, j - r). The keys are
// reflect-padded by an index map (reflect_index), never materialised.
//   L_t = <K[p], K[n_t(p)]>,  Z_t = tau L_t,  R_t = softmax_t(Z)
// Backward with the upstream gradient g_t:
//   dZ_t = R_t (g_t - sum_u g_u R_u),  dL_t = tau dZ_t,  d tau = sum_t dZ_t L_t
//   dK[p] += sum_t dL_t K[n_t(p)]  (direct),  dK[n_t(p)] += dL_t K[p]  (neighbour term,
//   a gather over the reflect pre-images: for_each_tap_onto).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "host_device.h"

namespace mmfeatup {

// Index of PyTorch's 'reflect' padding (edge not repeated) along an axis of
// length n. Valid for -n < e < 2n - 1, which radius < n guarantees.
template <typename index_t>
MMFEATUP_HOST_DEVICE index_t reflect_index(index_t e, index_t n) {
  return e < 0 ? -e : (e >= n ? 2 * (n - 1) - e : e);
}

// Positions e (unpadded coordinates, -r <= e < n + r) that reflect onto the real
// index q: q itself, -q (top/left mirror) and 2(n-1)-q (bottom/right mirror).
// Writes at most 3 entries to out and returns how many.
template <typename index_t>
MMFEATUP_HOST_DEVICE int reflect_preimages(index_t q, index_t n, index_t radius, index_t* out) {
  int count = 0;
  out[count++] = q;
  if (q >= 1 && q <= radius) out[count++] = -q;
  if (q <= n - 2 && q >= n - 1 - radius) out[count++] = 2 * (n - 1) - q;
  return count;
}

// The unscaled logit <K[:, p], K[:, q]> of keys_b = the keys of one batch element stored
// [D, H*W] (CUDA); the CPU loops read channels-innermost keys through SIMD tap_dots.
template <typename A, typename S, typename index_t>
MMFEATUP_HOST_DEVICE A key_dot(const S* keys_b, index_t p, index_t q, index_t depth,
                               index_t plane) {
  A acc = A(0);
  for (index_t d = 0; d < depth; ++d) {
    acc += static_cast<A>(keys_b[d * plane + p]) * static_cast<A>(keys_b[d * plane + q]);
  }
  return acc;
}

// Visits the window of pixel (y, x): f(t, q) for every tap t, q = the flat index
// (row * width + col) of its reflected neighbour n_t(p).
template <typename index_t, typename F>
MMFEATUP_HOST_DEVICE void for_each_window_tap(index_t y, index_t x, index_t height, index_t width,
                                              int radius, F&& f) {
  const int diameter = 2 * radius + 1;
  for (int i = 0; i < diameter; ++i) {
    const index_t row = reflect_index<index_t>(y + i - radius, height) * width;
    for (int j = 0; j < diameter; ++j) {
      f(i * diameter + j, row + reflect_index<index_t>(x + j - radius, width));
    }
  }
}

// Visits the (pixel p, tap t) pairs whose neighbour n_t(p) is the pixel (qy, qx):
// f(t, p) with p flat. The neighbour term of dK, as a gather (deterministic, no atomics).
template <typename index_t, typename F>
MMFEATUP_HOST_DEVICE void for_each_tap_onto(index_t qy, index_t qx, index_t height,
                                            index_t width, int radius, F&& f) {
  const int diameter = 2 * radius + 1;
  index_t pre_y[3], pre_x[3];
  const int ny = reflect_preimages<index_t>(qy, height, radius, pre_y);
  const int nx = reflect_preimages<index_t>(qx, width, radius, pre_x);
  for (int a = 0; a < ny; ++a) {
    for (int i = 0; i < diameter; ++i) {
      const index_t py = pre_y[a] - (i - radius);
      if (py < 0 || py >= height) continue;
      for (int c = 0; c < nx; ++c) {
        for (int j = 0; j < diameter; ++j) {
          const index_t px = pre_x[c] - (j - radius);
          if (px < 0 || px >= width) continue;
          f(i * diameter + j, py * width + px);
        }
      }
    }
  }
}

// One step of the streaming ("online") softmax normaliser over logits z_1..z_n:
// keeps running_max = max z and running_sum = sum exp(z - running_max) without a
// second pass or a buffer. Start from running_max = -inf, running_sum = 0.
// A logit of -inf adds exp(-inf) = 0 and is skipped: computing it as exp(z - running_max)
// would give exp(-inf - -inf) = NaN while running_max is still -inf (e.g. when the first
// taps' logits overflow to -inf), poisoning a pixel whose softmax is finite (as the CPU
// kernels and torch.softmax compute it). All logits -inf: running_sum stays 0 and the
// pixel is NaN, as in torch.softmax. NaN and +inf logits propagate as in torch.softmax.
template <typename T>
MMFEATUP_HOST_DEVICE void online_softmax_push(T z, T& running_max, T& running_sum) {
  if (z > running_max) {
    running_sum = running_sum * exp_of(running_max - z) + T(1);
    running_max = z;
  } else if (z != -std::numeric_limits<T>::infinity()) {
    running_sum += exp_of(z - running_max);
  }
}

// The softmax probability of logit z from the normaliser (max, sum) of its window.
template <typename T>
MMFEATUP_HOST_DEVICE T softmax_prob(T z, T running_max, T running_sum) {
  return exp_of(z - running_max) / running_sum;
}

// In place, two passes: the taps z[t * stride] (logits) -> softmax_t(z) (as torch.softmax:
// -inf logits give 0, all -inf or a NaN give NaN).
template <typename T, typename index_t>
MMFEATUP_HOST_DEVICE void softmax_taps(T* z, index_t stride, int taps) {
  T max_value = -std::numeric_limits<T>::infinity();
  for (int t = 0; t < taps; ++t) max_value = z[t * stride] > max_value ? z[t * stride] : max_value;
  T sum = T(0);
  for (int t = 0; t < taps; ++t) {
    z[t * stride] = exp_of(z[t * stride] - max_value);
    sum += z[t * stride];
  }
  const T inv = T(1) / sum;
  for (int t = 0; t < taps; ++t) z[t * stride] *= inv;
}

// Softmax backward, per pixel: sum_u g_u R_u over the taps (R_t = r[t * stride], upstream
// g_t = g[t * stride]), in the accumulate type A.
template <typename A, typename S, typename G, typename index_t>
MMFEATUP_HOST_DEVICE A softmax_grad_dot(const S* r, const G* g, index_t stride, int taps) {
  A weighted = A(0);
  for (int t = 0; t < taps; ++t) {
    weighted += static_cast<A>(g[t * stride]) * static_cast<A>(r[t * stride]);
  }
  return weighted;
}

// Softmax backward, per tap: dZ_t = R_t (g_t - sum_u g_u R_u).
template <typename A>
MMFEATUP_HOST_DEVICE A softmax_dz(A r, A g, A weighted) {
  return r * (g - weighted);
}

// Softmax backward of one pixel: from R, g (stride) and the unscaled logits
// L_t = logits[t * lstride], writes dL_t = tau dZ_t to dl[t * lstride] and returns the
// pixel's share of d tau, sum_t dZ_t L_t. dl may be logits (L_t is read before dL_t is
// written).
template <typename A, typename S, typename G, typename index_t>
MMFEATUP_HOST_DEVICE A softmax_logit_grads(const S* r, const G* g, index_t stride,
                                           const A* logits, A* dl, index_t lstride, A tau,
                                           int taps) {
  const A weighted = softmax_grad_dot<A>(r, g, stride, taps);
  A tau_part = A(0);
  for (int t = 0; t < taps; ++t) {
    const A dz =
        softmax_dz<A>(static_cast<A>(r[t * stride]), static_cast<A>(g[t * stride]), weighted);
    tau_part += dz * logits[t * lstride];
    dl[t * lstride] = tau * dz;
  }
  return tau_part;
}

}  // namespace mmfeatup
