// CPU kernels of mmfeatup::bicubic_adaptive_conv, forward and backward. The arithmetic of the
// resize is ops/csrc/common/bicubic_adaptive_conv_math.h, shared with the CUDA kernel.
//
// Neither the resized nor the padded map is built. Per axis, every output index o gets the
// source span its window reads (rows o .. o + 2r of the padded map, each 4 source taps) and
// a dense [d, span] weight table (Plan). Per output pixel the d x d filter w is composed with
// the row and column tables into one filter over its source window,
//   M[a][e] = sum_i rows[y][i][a] * sum_j w[i][j] * cols[x][j][e],
// and applied to the channels-innermost source: two horizontally adjacent pixels share one
// column span, so each loaded source vector serves both (cpu::weighted_taps_pair). A x2 stage
// with r = 3 reads 6-7 x 7-8 source taps per pixel pair instead of 2 x 7 x 7 padded ones.
// Output channels-last, like adaptive_conv's. Parallel over batch * rows.
// A downscaling axis widens the span with the scale (work ~ ratio^2, mostly zero weights):
// there the kernel resizes with ATen and runs adaptive_conv (the two-step form, same values).
// Non-finite source values: a pixel's window covers its pair's whole span, so a NaN/Inf reaches
// every output whose span holds it (a superset of the outputs it reaches in the two-step form).
//
// Backward (fused, same plans), per batch element:
//   1. per output pixel (parallel over rows): its composed filter M (kept, [H*W, window]), the
//      dots G[a][e] = <grad[pix], source[window a,e]> over the channels, and
//      d w[i][j] = sum_a rows[y][i][a] sum_e G[a][e] cols[x][j][e];
//   2. per source pixel (parallel over source rows): d source[s] = sum over the output pixels
//      whose window holds s of M_pix[s] * grad[pix], a gather (deterministic, no atomics) with
//      the channels in registers (cpu::weighted_taps), written through a [w, C] row buffer.
// Neither the resized map nor its gradient exists. A non-finite source or output-gradient value
// reaches every gradient whose window holds it (as in the forward); a non-finite weight makes
// its d weights and output non-finite, but compose_filter skips source rows whose resize
// coefficient is exactly 0, so its d source may cover fewer rows than ATen's adjoint's 0 * NaN.
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "../op_common.h"
#include "bicubic_adaptive_conv_math.h"
#include "cpu_helpers.h"
#include "reused_kernels.h"

namespace mmfeatup {
namespace {

// The source spans of one axis (in_size -> out_size, padded by r) for groups of `group`
// consecutive output indices: group g reads source indices [start[g], start[g] + span);
// weight[(o * d + i) * span + k] is what padded position o + i puts on source start[g] + k.
template <typename T>
struct Plan {
  std::vector<int64_t> start;
  std::vector<T> weight;
  int64_t span = 0;
};

template <typename T>
Plan<T> axis_plan(int64_t in_size, int64_t out_size, int64_t radius, int64_t group) {
  const int64_t diameter = 2 * radius + 1, groups = (out_size + group - 1) / group;
  const T scale = bicubic_scale<T, int64_t>(in_size, out_size);
  std::vector<int64_t> first(groups, in_size), last(groups, -1);
  std::vector<int64_t> index(out_size * diameter * 4);
  std::vector<T> coef(out_size * diameter * 4);
  for (int64_t o = 0; o < out_size; ++o) {
    for (int64_t i = 0; i < diameter; ++i) {
      int64_t* idx = index.data() + (o * diameter + i) * 4;
      bicubic_padded_taps<T, int64_t>(o + i, radius, in_size, out_size, scale, idx,
                                      coef.data() + (o * diameter + i) * 4);
      for (int k = 0; k < 4; ++k) {
        first[o / group] = std::min(first[o / group], idx[k]);
        last[o / group] = std::max(last[o / group], idx[k]);
      }
    }
  }
  Plan<T> plan;
  for (int64_t g = 0; g < groups; ++g) plan.span = std::max(plan.span, last[g] - first[g] + 1);
  plan.start.resize(groups);
  // every group reads `span` indices: shift the start left where the span would run past the end
  for (int64_t g = 0; g < groups; ++g) plan.start[g] = std::min(first[g], in_size - plan.span);
  plan.weight.assign(out_size * diameter * plan.span, T(0));
  for (int64_t o = 0; o < out_size; ++o) {
    for (int64_t i = 0; i < diameter; ++i) {
      for (int k = 0; k < 4; ++k) {
        const int64_t at = (o * diameter + i) * 4 + k;
        plan.weight[(o * diameter + i) * plan.span + index[at] - plan.start[o / group]] += coef[at];
      }
    }
  }
  return plan;
}

// M = rows^T (w cols) of one pixel: rows [d, la], w [d*d] (tap t = i*d + j, read with stride
// w_stride), cols [d, lc] -> m [la, lc]; tmp is [d, lc] scratch.
template <typename T>
void compose_filter(const T* rows, const T* w, int64_t w_stride, const T* cols, int64_t diameter,
                    int64_t la, int64_t lc, T* tmp, T* m) {
  std::fill(tmp, tmp + diameter * lc, T(0));
  for (int64_t i = 0; i < diameter; ++i) {
    T* tmp_i = tmp + i * lc;
    for (int64_t j = 0; j < diameter; ++j) {
      const T wij = w[(i * diameter + j) * w_stride];
      const T* col = cols + j * lc;
      for (int64_t e = 0; e < lc; ++e) tmp_i[e] += wij * col[e];
    }
  }
  std::fill(m, m + la * lc, T(0));
  for (int64_t i = 0; i < diameter; ++i) {
    const T* tmp_i = tmp + i * lc;
    for (int64_t a = 0; a < la; ++a) {
      const T r = rows[i * la + a];
      if (r == T(0)) continue;
      T* m_a = m + a * lc;
      for (int64_t e = 0; e < lc; ++e) m_a[e] += r * tmp_i[e];
    }
  }
}

// Per-task scratch: compose_filter's [d, lc] temporary and the filters of a pixel pair.
template <typename T>
struct Scratch {
  Scratch(int64_t tmp_size, int64_t window) : tmp(tmp_size), m0(window), m1(window) {}
  std::vector<T> tmp, m0, m1;
};

template <typename T>
void forward_kernel(const T* src, const T* weights, T* out, int64_t batch, int64_t channels,
                    int64_t in_h, int64_t in_w, int64_t height, int64_t width, int64_t radius) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter, plane = height * width;
  const Plan<T> rows = axis_plan<T>(in_h, height, radius, 1);
  const Plan<T> cols = axis_plan<T>(in_w, width, radius, 2);
  const int64_t la = rows.span, lc = cols.span, window = la * lc;
  std::vector<int64_t> offsets(window);  // the source window from its top-left pixel
  for (int64_t a = 0; a < la; ++a) {
    for (int64_t e = 0; e < lc; ++e) offsets[a * lc + e] = (a * in_w + e) * channels;
  }
  cpu::parallel_rows(
      batch, height, width * window * channels,
      [&] { return Scratch<T>(diameter * lc, window); },
      [&](int64_t b, int64_t y, int64_t index, Scratch<T>& s) {
        const T* w_b = weights + b * taps * plane + y * width;
        const T* row_w = rows.weight.data() + y * diameter * la;
        const T* src_rows = src + (b * in_h + rows.start[y]) * in_w * channels;
        T* out_row = out + index * width * channels;  // channels-last output row
        for (int64_t x = 0; x < width; x += 2) {
          const T* base = src_rows + cols.start[x / 2] * channels;
          compose_filter(row_w, w_b + x, plane, cols.weight.data() + x * diameter * lc, diameter,
                         la, lc, s.tmp.data(), s.m0.data());
          if (x + 1 < width) {
            compose_filter(row_w, w_b + x + 1, plane,
                           cols.weight.data() + (x + 1) * diameter * lc, diameter, la, lc,
                           s.tmp.data(), s.m1.data());
            cpu::weighted_taps_pair(out_row + x * channels, out_row + (x + 1) * channels, base,
                                    offsets.data(), s.m0.data(), s.m1.data(), window, channels);
          } else {
            cpu::weighted_taps(out_row + x * channels, base, offsets.data(), s.m0.data(), window,
                               channels);
          }
        }
      });
}

// For each source index of one axis, the output indices whose group span holds it and where:
// reader o with position k (source index = start[o / group] + k). CSR: readers of s are
// [first[s], first[s + 1]).
struct AxisReaders {
  std::vector<int64_t> first, output, position;
  int64_t most = 0;  // the longest list
};

template <typename T>
AxisReaders axis_readers(const Plan<T>& plan, int64_t in_size, int64_t out_size, int64_t group) {
  AxisReaders r;
  r.first.assign(in_size + 1, 0);
  for (int64_t o = 0; o < out_size; ++o) {
    for (int64_t k = 0; k < plan.span; ++k) ++r.first[plan.start[o / group] + k + 1];
  }
  for (int64_t s = 0; s < in_size; ++s) {
    r.most = std::max(r.most, r.first[s + 1]);
    r.first[s + 1] += r.first[s];
  }
  r.output.resize(r.first[in_size]);
  r.position.resize(r.first[in_size]);
  std::vector<int64_t> fill(r.first.begin(), r.first.end() - 1);
  for (int64_t o = 0; o < out_size; ++o) {  // ascending o per source index: a fixed order
    for (int64_t k = 0; k < plan.span; ++k) {
      const int64_t at = fill[plan.start[o / group] + k]++;
      r.output[at] = o;
      r.position[at] = k;
    }
  }
  return r;
}

// d w of one pixel from its window dots G [la, lc]: tmp[a][j] = sum_e G[a][e] cols[j][e], then
// gw[(i * d + j) * gw_stride] = sum_a rows[i][a] tmp[a][j]; tmp is [la, d] scratch.
template <typename T>
void filter_gradient(const T* rows, const T* dots, const T* cols, int64_t diameter, int64_t la,
                     int64_t lc, T* tmp, T* gw, int64_t gw_stride) {
  for (int64_t a = 0; a < la; ++a) {
    const T* g_a = dots + a * lc;
    for (int64_t j = 0; j < diameter; ++j) {
      const T* col = cols + j * lc;
      T acc = T(0);
      for (int64_t e = 0; e < lc; ++e) acc += g_a[e] * col[e];
      tmp[a * diameter + j] = acc;
    }
  }
  for (int64_t i = 0; i < diameter; ++i) {
    for (int64_t j = 0; j < diameter; ++j) {
      T acc = T(0);
      for (int64_t a = 0; a < la; ++a) acc += rows[i * la + a] * tmp[a * diameter + j];
      gw[(i * diameter + j) * gw_stride] = acc;
    }
  }
}

template <typename T>
struct BackwardScratch {
  BackwardScratch(int64_t compose, int64_t window, int64_t gradient)
      : tmp(compose), dots(window), gtmp(gradient) {}
  std::vector<T> tmp, dots, gtmp;
};

// The gather's channel block: its slice of the output rows one source row reads stays in L2.
constexpr int64_t kGatherBlock = 64;

// Per source row: its [w, C] gradient row and the readers (offsets, weights, count) of each
// of its pixels, at most `most` per pixel.
template <typename T>
struct GatherScratch {
  GatherScratch(int64_t width, int64_t channels, int64_t most)
      : row(width * channels), offsets(width * most), weights(width * most), count(width) {}
  std::vector<T> row;
  std::vector<int64_t> offsets;
  std::vector<T> weights;
  std::vector<int64_t> count;
};

template <typename T>
void backward_kernel(const T* grad, const T* src, const T* weights, T* grad_src, T* grad_w,
                     int64_t batch, int64_t channels, int64_t in_h, int64_t in_w, int64_t height,
                     int64_t width, int64_t radius) {
  const int64_t diameter = 2 * radius + 1, taps = diameter * diameter, plane = height * width;
  const Plan<T> rows = axis_plan<T>(in_h, height, radius, 1);
  const Plan<T> cols = axis_plan<T>(in_w, width, radius, 2);
  const AxisReaders row_readers = axis_readers(rows, in_h, height, 1);
  const AxisReaders col_readers = axis_readers(cols, in_w, width, 2);
  const int64_t la = rows.span, lc = cols.span, window = la * lc;
  std::vector<int64_t> offsets(window);
  for (int64_t a = 0; a < la; ++a) {
    for (int64_t e = 0; e < lc; ++e) offsets[a * lc + e] = (a * in_w + e) * channels;
  }
  const int64_t most = row_readers.most * col_readers.most;  // readers of one source pixel
  std::vector<T> filters(plane * window);  // M of every output pixel of one batch element
  for (int64_t b = 0; b < batch; ++b) {
    const T* g_b = grad + b * plane * channels;
    const T* src_b = src + b * in_h * in_w * channels;
    cpu::parallel_rows(
        1, height, width * window * channels,
        [&] { return BackwardScratch<T>(diameter * lc, window, la * diameter); },
        [&](int64_t, int64_t y, int64_t, BackwardScratch<T>& s) {
          const T* w_b = weights + b * taps * plane + y * width;
          const T* row_w = rows.weight.data() + y * diameter * la;
          const T* src_rows = src_b + rows.start[y] * in_w * channels;
          T* gw = grad_w + b * taps * plane + y * width;
          for (int64_t x = 0; x < width; ++x) {
            const T* col_w = cols.weight.data() + x * diameter * lc;
            compose_filter(row_w, w_b + x, plane, col_w, diameter, la, lc, s.tmp.data(),
                           filters.data() + (y * width + x) * window);
            cpu::tap_dots(s.dots.data(), g_b + (y * width + x) * channels,
                          src_rows + cols.start[x / 2] * channels, offsets.data(), window,
                          channels);
            filter_gradient(row_w, s.dots.data(), col_w, diameter, la, lc, s.gtmp.data(),
                            gw + x, plane);
          }
        });
    cpu::parallel_rows(
        1, in_h, in_w * most * channels,
        [&] { return GatherScratch<T>(in_w, channels, most); },
        [&](int64_t, int64_t sy, int64_t, GatherScratch<T>& s) {
          for (int64_t sx = 0; sx < in_w; ++sx) {  // the readers of every pixel of the row
            int64_t readers = 0;
            int64_t* offsets_x = s.offsets.data() + sx * most;
            T* weights_x = s.weights.data() + sx * most;
            for (int64_t p = row_readers.first[sy]; p < row_readers.first[sy + 1]; ++p) {
              const int64_t y = row_readers.output[p], a = row_readers.position[p];
              for (int64_t q = col_readers.first[sx]; q < col_readers.first[sx + 1]; ++q) {
                const int64_t pixel = y * width + col_readers.output[q];
                offsets_x[readers] = pixel * channels;
                weights_x[readers] = filters[pixel * window + a * lc + col_readers.position[q]];
                ++readers;
              }
            }
            s.count[sx] = readers;
          }
          // channel blocks outermost: the rows of grad a source row gathers from stay in cache
          for (int64_t k0 = 0; k0 < channels; k0 += kGatherBlock) {
            const int64_t n = std::min(kGatherBlock, channels - k0);
            for (int64_t sx = 0; sx < in_w; ++sx) {
              cpu::weighted_taps(s.row.data() + sx * channels + k0, g_b + k0,
                                 s.offsets.data() + sx * most, s.weights.data() + sx * most,
                                 s.count[sx], n);
            }
          }
          cpu::transpose_row(grad_src + (b * channels * in_h + sy) * in_w, s.row.data(), in_w,
                             channels, in_h * in_w);
        });
  }
}

}  // namespace

bool bicubic_adaptive_conv_cpu_fuses(const Tensor& source, const Tensor& weights) {
  return source.size(2) <= weights.size(2) && source.size(3) <= weights.size(3);
}

Tensor bicubic_adaptive_conv_cpu(const Tensor& source, const Tensor& weights_any) {
  const Tensor weights = weights_any.contiguous();
  const int64_t batch = source.size(0), channels = source.size(1);
  const int64_t height = weights.size(2), width = weights.size(3);
  const int64_t radius = radius_of_taps(weights.size(1), "bicubic_adaptive_conv");
  if (!bicubic_adaptive_conv_cpu_fuses(source, weights)) {
    const Tensor resized = at::upsample_bicubic2d(source, {height, width}, false);
    return adaptive_conv_cpu(at::reflection_pad2d(resized, {radius, radius, radius, radius}),
                             weights);
  }
  const Tensor src = cpu::channels_innermost(source);
  Tensor out = at::empty({batch, channels, height, width},
                         source.options().memory_format(at::MemoryFormat::ChannelsLast));
  AT_DISPATCH_FLOATING_TYPES(source.scalar_type(), "bicubic_adaptive_conv_cpu", [&] {
    forward_kernel<scalar_t>(src.data_ptr<scalar_t>(), weights.data_ptr<scalar_t>(),
                             out.data_ptr<scalar_t>(), batch, channels, source.size(2),
                             source.size(3), height, width, radius);
  });
  return out;
}

std::tuple<Tensor, Tensor> bicubic_adaptive_conv_backward_cpu_fused(const Tensor& grad_output,
                                                                    const Tensor& source,
                                                                    const Tensor& weights_any) {
  const Tensor weights = weights_any.contiguous();
  const int64_t batch = source.size(0), channels = source.size(1);
  const int64_t height = weights.size(2), width = weights.size(3);
  const int64_t radius = radius_of_taps(weights.size(1), "bicubic_adaptive_conv_backward");
  const Tensor src = cpu::channels_innermost(source);
  const Tensor grad = cpu::channels_innermost(grad_output);
  Tensor grad_source = at::empty(source.sizes(), source.options());  // contiguous
  Tensor grad_weights = at::empty_like(weights);
  AT_DISPATCH_FLOATING_TYPES(source.scalar_type(), "bicubic_adaptive_conv_backward_cpu", [&] {
    backward_kernel<scalar_t>(grad.data_ptr<scalar_t>(), src.data_ptr<scalar_t>(),
                              weights.data_ptr<scalar_t>(), grad_source.data_ptr<scalar_t>(),
                              grad_weights.data_ptr<scalar_t>(), batch, channels, source.size(2),
                              source.size(3), height, width, radius);
  });
  return std::make_tuple(grad_source, grad_weights);
}

}  // namespace mmfeatup
