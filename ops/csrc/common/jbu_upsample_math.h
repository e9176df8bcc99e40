// Shared arithmetic of mmfeatup::jbu_upsample, for the CPU loops and the CUDA kernels.
//
//   A_t = R_t S_t,  total = sum_t A_t,  W_t = A_t / max(total, 1e-7),  out = adaptive_conv(U, W)
// with R the range kernel (range_kernel_math.h) and S_t the Gaussian spatial weight.
// Backward from dW_t (adaptive_conv's weight gradient):
//   dA_t = dW_t / m - [total >= 1e-7] (sum_u dW_u A_u) / m^2,   m = max(total, 1e-7)
//   dR_t = dA_t S_t,   d sigma = sum_t dA_t R_t dS_t/dsigma,  dS_t/dsigma = S_t q_t / sigma^3
// (q_t the squared grid distance), then range_kernel's backward with dR.
#pragma once

#include <cstdint>

#include "host_device.h"
#include "range_kernel_math.h"

namespace mmfeatup {

// The JBU normalisation floor: W = A / max(sum_t A_t, kJbuEps).
constexpr double kJbuEps = 1e-7;

// Squared distance of tap offset (di, dj) on the linspace(-1, 1, d) grid.
template <typename T>
MMFEATUP_HOST_DEVICE T spatial_sq_dist(int64_t di, int64_t dj, int64_t radius) {
  const T y = static_cast<T>(di) / static_cast<T>(radius);
  const T x = static_cast<T>(dj) / static_cast<T>(radius);
  return x * x + y * y;
}

// Gaussian spatial weight of tap offset (di, dj): exp(-q / (2 sigma^2)).
template <typename T>
MMFEATUP_HOST_DEVICE T spatial_weight(int64_t di, int64_t dj, int64_t radius, T sigma) {
  return exp_of(-spatial_sq_dist<T>(di, dj, radius) / (T(2) * sigma * sigma));
}

// Tap t of the spatial table: S_t in spatial[t], dS_t/dsigma in spatial[taps + t].
template <typename T>
MMFEATUP_HOST_DEVICE void spatial_table_entry(int t, int radius, T sigma, T* spatial) {
  const int diameter = 2 * radius + 1, taps = diameter * diameter;
  const int di = t / diameter - radius, dj = t % diameter - radius;
  const T s = spatial_weight<T>(di, dj, radius, sigma);
  spatial[t] = s;
  spatial[taps + t] = s * spatial_sq_dist<T>(di, dj, radius) / (sigma * sigma * sigma);
}

// Per pixel: the normaliser m = max(total, 1e-7) of total = sum_t A_t.
template <typename T>
MMFEATUP_HOST_DEVICE T jbu_floor(T total) {
  return total > T(kJbuEps) ? total : T(kJbuEps);
}

// Per pixel: d total = -(sum_t dW_t A_t) / m^2 where the floor is not active (as torch's
// clamp_min: the gradient passes where total >= 1e-7), else 0.
template <typename T>
MMFEATUP_HOST_DEVICE T jbu_dtotal(T total, T dot, T m) {
  return total >= T(kJbuEps) ? -dot / (m * m) : T(0);
}

// Per tap: dA_t = dW_t / m + d total.
template <typename T>
MMFEATUP_HOST_DEVICE T jbu_da(T dw, T inv_m, T dtotal) {
  return dw * inv_m + dtotal;
}

// In place for one pixel: the range kernel k[t * stride] = R_t -> the JBU kernel W_t.
template <typename T, typename index_t>
MMFEATUP_HOST_DEVICE void jbu_normalise_taps(T* k, index_t stride, const T* spatial, int taps) {
  T total = T(0);
  for (int t = 0; t < taps; ++t) {
    k[t * stride] *= spatial[t];
    total += k[t * stride];
  }
  const T inv = T(1) / jbu_floor(total);
  for (int t = 0; t < taps; ++t) k[t * stride] *= inv;
}

// Backward of jbu_normalise_taps for one pixel: from R_t = r[t * stride] and
// dW_t = dw[t * stride] writes dR_t to dr[t * stride]; returns the pixel's d sigma share.
// spatial: the table of spatial_table_entry (S_t, then dS_t/dsigma).
template <typename T, typename index_t>
MMFEATUP_HOST_DEVICE T jbu_kernel_grads(const T* r, const T* dw, index_t stride,
                                        const T* spatial, int taps, T* dr) {
  T total = T(0), dot = T(0);
  for (int t = 0; t < taps; ++t) {
    const T a = r[t * stride] * spatial[t];
    total += a;
    dot += dw[t * stride] * a;
  }
  const T m = jbu_floor(total), inv_m = T(1) / m, dtotal = jbu_dtotal(total, dot, m);
  T sigma_part = T(0);
  for (int t = 0; t < taps; ++t) {
    const T da = jbu_da(dw[t * stride], inv_m, dtotal);
    sigma_part += da * r[t * stride] * spatial[taps + t];
    dr[t * stride] = da * spatial[t];
  }
  return sigma_part;
}

}  // namespace mmfeatup
