// Shared arithmetic of mmfeatup::bicubic_adaptive_conv, for the CPU loops and the CUDA kernels:
//   U = reflect_pad(bicubic(S, (H, W)), r)           (PyTorch's bicubic, align_corners=False)
//   out[b,c,y,x] = sum_{i,j} w[b,i*d+j,y,x] * U[b,c,y+i,x+j]
// One padded position P (0 <= P < n + 2r) of an axis resized in -> n reads the source rows
// index[k] with weights coef[k], k < 4 (bicubic_padded_taps): the reflect padding is the index
// map reflect_index(P - r, n), the resize PyTorch's (A = -0.75, indices clamped to the
// border, coefficients in the accumulate type). The CPU kernel composes these per output pixel
// into one filter over the source window; the CUDA kernel sums them per output element.
#pragma once

#include <cstdint>

#include "host_device.h"
#include "range_kernel_math.h"

namespace mmfeatup {

// PyTorch's cubic convolution coefficients (A = -0.75) of the four taps at offsets -1, 0, 1, 2
// from floor(source position), for the fractional part t (upsample_bicubic2d's formula and
// evaluation order).
template <typename A>
MMFEATUP_HOST_DEVICE void cubic_coefficients(A t, A* coef) {
  const A a = A(-0.75);
  const A x1 = t, x2 = A(1) - t;
  const A far1 = x1 + A(1), far2 = x2 + A(1);
  coef[0] = ((a * far1 - A(5) * a) * far1 + A(8) * a) * far1 - A(4) * a;
  coef[1] = ((a + A(2)) * x1 - (a + A(3))) * x1 * x1 + A(1);
  coef[2] = ((a + A(2)) * x2 - (a + A(3))) * x2 * x2 + A(1);
  coef[3] = ((a * far2 - A(5) * a) * far2 + A(8) * a) * far2 - A(4) * a;
}

// The source taps of output index o of a bicubic resize in_size -> out_size (scale =
// in_size / out_size in A, as PyTorch computes it): index[k] in [0, in_size), coef[k].
template <typename A, typename index_t>
MMFEATUP_HOST_DEVICE void bicubic_taps(index_t o, index_t in_size, A scale, index_t* index,
                                       A* coef) {
  const A real = scale * (static_cast<A>(o) + A(0.5)) - A(0.5);
  index_t base = static_cast<index_t>(floor_of(real));
  if (base > in_size - 1) base = in_size - 1;
  A t = real - static_cast<A>(base);
  t = t < A(0) ? A(0) : (t > A(1) ? A(1) : t);
  cubic_coefficients<A>(t, coef);
  for (int k = 0; k < 4; ++k) {
    const index_t i = base - 1 + k;
    index[k] = i < 0 ? index_t(0) : (i > in_size - 1 ? in_size - 1 : i);
  }
}

// bicubic_taps of the padded position P (0 <= P < out_size + 2r) after reflect padding by r.
template <typename A, typename index_t>
MMFEATUP_HOST_DEVICE void bicubic_padded_taps(index_t padded, index_t radius, index_t in_size,
                                              index_t out_size, A scale, index_t* index,
                                              A* coef) {
  bicubic_taps<A, index_t>(reflect_index<index_t>(padded - radius, out_size), in_size, scale,
                           index, coef);
}

// The resize scale of an axis in_size -> out_size in the accumulate type A.
template <typename A, typename index_t>
MMFEATUP_HOST_DEVICE A bicubic_scale(index_t in_size, index_t out_size) {
  return static_cast<A>(in_size) / static_cast<A>(out_size);
}

}  // namespace mmfeatup
