// Host-side unit test of the CUDA kernels' shared arithmetic (ops/csrc/common): the
// grid-stride loop (grid_stride.h) and the online softmax (range_kernel_math.h). Built and run by
// test_kernel_math_host.py with the system C++ compiler; needs no GPU, CUDA or ATen.
//
// Usage: host_kernel_math {loop|softmax}   prints "OK <case>" / "FAIL <case> <detail>" and
// exits 1 on any failure. Compiled with -DMMFEATUP_TEST_OLD_CODE it checks copies of the
// code before the fixes instead (the loop step `index += stride`, the push without the -inf
// guard) so the test can prove that it detects those defects.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <type_traits>
#include <vector>

#include "grid_stride.h"
#include "bicubic_adaptive_conv_math.h"
#include "range_kernel_math.h"

namespace {

int failures = 0;

void report(bool ok, const char* what, const char* detail = "") {
  std::printf("%s %s %s\n", ok ? "OK" : "FAIL", what, detail);
  if (!ok) ++failures;
}

#ifdef MMFEATUP_TEST_OLD_CODE
// The loop as MMFEATUP_CUDA_LOOP was: index += blockDim.x * gridDim.x, where the step is
// unsigned for a 32-bit index (so the sum wraps modulo 2^32, as on the GPU).
#define LOOP_UNDER_TEST(index, start, stride, n, index_t)                               \
  for (index_t index = static_cast<index_t>(start); index < (n);                       \
       index = static_cast<index_t>(static_cast<std::make_unsigned_t<index_t>>(index) + \
                                    static_cast<std::make_unsigned_t<index_t>>(stride)))

template <typename T>
void push_under_test(T z, T& running_max, T& running_sum) {
  if (z > running_max) {
    running_sum = running_sum * std::exp(running_max - z) + T(1);
    running_max = z;
  } else {
    running_sum += std::exp(z - running_max);
  }
}
#else
#define LOOP_UNDER_TEST(index, start, stride, n, index_t) \
  MMFEATUP_GRID_STRIDE_LOOP(index, start, stride, n, index_t)

template <typename T>
void push_under_test(T z, T& running_max, T& running_sum) {
  mmfeatup::online_softmax_push<T>(z, running_max, running_sum);
}
#endif

// One emulated thread `tid` of a launch over n items with the kernels' launch
// configuration: it must visit exactly tid, tid + stride, ... < n, in order, and stop.
template <typename index_t>
bool emulate_thread(int64_t n, int64_t stride, int64_t tid, char* detail, size_t size) {
  const int64_t expected = tid < n ? (n - 1 - tid) / stride + 1 : 0;
  int64_t count = 0;
  const index_t bound = static_cast<index_t>(n);
  LOOP_UNDER_TEST(index, tid, stride, bound, index_t) {
    const int64_t want = tid + count * stride;
    if (static_cast<int64_t>(index) != want || index < 0 || static_cast<int64_t>(index) >= n) {
      std::snprintf(detail, size, "n=%lld tid=%lld: visit %lld is index %lld, want %lld (< n)",
                    (long long)n, (long long)tid, (long long)count, (long long)index,
                    (long long)want);
      return false;
    }
    if (++count > expected) break;  // would not terminate / overruns
  }
  if (count != expected) {
    std::snprintf(detail, size, "n=%lld tid=%lld: %lld visits, want %lld", (long long)n,
                  (long long)tid, (long long)count, (long long)expected);
    return false;
  }
  return true;
}

template <typename index_t>
void check_loop(int64_t n, const char* index_name) {
  using mmfeatup::cuda::kThreads;
  const int64_t stride = static_cast<int64_t>(mmfeatup::cuda::num_blocks(n)) * kThreads;
  const int64_t last = (n - 1) % stride;
  std::set<int64_t> tids{0, 1, stride / 2, stride - 1, last, last + 1, last - 1, last - 2};
  char name[160], detail[256] = "";
  std::snprintf(name, sizeof(name), "loop_%s_n=%lld_stride=%lld", index_name, (long long)n,
                (long long)stride);
  bool ok = true;
  for (int64_t tid : tids) {
    if (tid < 0 || tid >= stride) continue;
    if (!emulate_thread<index_t>(n, stride, tid, detail, sizeof(detail))) {
      ok = false;
      break;
    }
  }
  report(ok, name, detail);
}

void run_loop_tests() {
  using mmfeatup::cuda::fits_int32;
  using mmfeatup::cuda::num_blocks;
  const int64_t k28 = int64_t(1) << 28, k31 = int64_t(1) << 31;
  // Launch configuration and the 32/64-bit decision at their boundaries.
  report(num_blocks(1) == 1 && num_blocks(256) == 1 && num_blocks(257) == 2 &&
             num_blocks(k28) == (1u << 20) && num_blocks(k28 + 1) == (1u << 20) &&
             num_blocks(k31 - 1) == (1u << 20),
         "num_blocks_boundaries");
  report(fits_int32({k31 - 2}) && !fits_int32({k31 - 1}) && !fits_int32({k31}) &&
             !fits_int32({5, k31 + 7}) && fits_int32({0, 1, k31 - k28 + 1}),
         "fits_int32_boundaries");
  // 32-bit loop for every n representable in int, including all n that fits_int32 sends
  // to it (n <= 2^31 - 2) and those where `index += stride` overflowed (n > 2^31 - 2^28).
  const std::vector<int64_t> small_n{1,          255,           256,          257,
                                     k28 - 1,    k28,           k28 + 1,      k31 - k28 - 1,
                                     k31 - k28,  1879048193,    k31 - k28 + 2, k31 - k28 / 2,
                                     k31 - 257,  k31 - 2,       k31 - 1};
  for (int64_t n : small_n) check_loop<int>(n, "int32");
  for (int64_t n : small_n) check_loop<int64_t>(n, "int64");
  for (int64_t n : {k31, k31 + 1, (int64_t(1) << 32) + 5, (int64_t(1) << 40) + 3}) {
    check_loop<int64_t>(n, "int64");
  }
}

// Softmax of z as the CUDA kernels compute it: online normaliser, then exp(z - max) / sum.
template <typename T>
std::vector<T> online_softmax(const std::vector<T>& z) {
  T running_max = -std::numeric_limits<T>::infinity(), running_sum = 0;
  for (T v : z) push_under_test<T>(v, running_max, running_sum);
  std::vector<T> out;
  for (T v : z) out.push_back(std::exp(v - running_max) / running_sum);
  return out;
}

// Two-pass reference in long double (torch.softmax's definition).
template <typename T>
std::vector<long double> reference_softmax(const std::vector<T>& z) {
  long double max_value = -std::numeric_limits<long double>::infinity(), sum = 0;
  for (T v : z) max_value = std::max<long double>(max_value, v);
  std::vector<long double> out;
  for (T v : z) sum += std::exp(static_cast<long double>(v) - max_value);
  for (T v : z) out.push_back(std::exp(static_cast<long double>(v) - max_value) / sum);
  return out;
}

template <typename T>
void check_softmax(const char* name, const std::vector<T>& z, double tol) {
  const std::vector<T> got = online_softmax(z);
  const std::vector<long double> want = reference_softmax(z);
  bool ok = true;
  char detail[256] = "";
  for (size_t t = 0; t < z.size(); ++t) {
    const bool want_nan = std::isnan(want[t]);
    const bool match = want_nan ? std::isnan(got[t])
                                : std::isfinite(got[t]) &&
                                      std::fabs(static_cast<long double>(got[t]) - want[t]) <= tol;
    if (!match) {
      std::snprintf(detail, sizeof(detail), "tap %zu: got %g, want %Lg", t, (double)got[t],
                    want[t]);
      ok = false;
      break;
    }
  }
  char full[160];
  std::snprintf(full, sizeof(full), "softmax_%s_%s", sizeof(T) == 4 ? "float" : "double", name);
  report(ok, full, detail);
}

template <typename T>
void run_softmax_tests_for(double tol) {
  const T inf = std::numeric_limits<T>::infinity();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  check_softmax<T>("finite", {0.5, -1.0, 2.0, 0.25}, tol);
  check_softmax<T>("large_finite", {T(80), T(88.5), T(60)}, tol);
  check_softmax<T>("first_tap_-inf", {-inf, 0.5, 1.5}, tol);
  check_softmax<T>("leading_-inf_taps", {-inf, -inf, -inf, 3.0, 1.0, -inf, 2.0}, tol);
  check_softmax<T>("trailing_-inf", {1.0, 2.0, -inf, -inf}, tol);
  // A 3x3 window whose top row overflowed to -inf (tau * <K_p, K_q> below -FLT_MAX).
  check_softmax<T>("window_top_row_-inf", {-inf, -inf, -inf, 0.0, 4.0, 0.0, 1.0, 1.0, 1.0},
                   tol);
  // Every logit -inf, +inf or NaN: NaN, as torch.softmax.
  check_softmax<T>("all_-inf_is_nan", {-inf, -inf, -inf}, tol);
  check_softmax<T>("nan_propagates", {1.0, nan, 2.0}, tol);
  check_softmax<T>("+inf_is_nan", {1.0, inf, inf}, tol);
}

// Prints "TAPS in out r P i0 i1 i2 i3 c0 c1 c2 c3" for every padded position P of the resize
// in -> out padded by r: the taps the CUDA kernel computes (int indices, float coefficients);
// the Python test compares them with F.interpolate's weights.
void run_bicubic_taps() {
  const int cases[][3] = {{7, 14, 3}, {5, 13, 2}, {14, 28, 1}, {3, 11, 5}, {9, 5, 1}, {1, 6, 0},
                          {6, 6, 2}, {112, 224, 3}};
  for (const auto& c : cases) {
    const int in = c[0], out = c[1], r = c[2];
    const float scale = mmfeatup::bicubic_scale<float, int>(in, out);
    for (int p = 0; p < out + 2 * r; ++p) {
      int index[4];
      float coef[4];
      mmfeatup::bicubic_padded_taps<float, int>(p, r, in, out, scale, index, coef);
      std::printf("TAPS %d %d %d %d %d %d %d %d %.9g %.9g %.9g %.9g\n", in, out, r, p, index[0],
                  index[1], index[2], index[3], coef[0], coef[1], coef[2], coef[3]);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s {loop|softmax|bicubic}\n", argv[0]);
    return 2;
  }
  if (std::strcmp(argv[1], "loop") == 0) {
    run_loop_tests();
  } else if (std::strcmp(argv[1], "bicubic") == 0) {
    run_bicubic_taps();
  } else if (std::strcmp(argv[1], "softmax") == 0) {
    run_softmax_tests_for<float>(1e-6);
    run_softmax_tests_for<double>(1e-14);
  } else {
    std::fprintf(stderr, "unknown test %s\n", argv[1]);
    return 2;
  }
  return failures == 0 ? 0 : 1;
}
