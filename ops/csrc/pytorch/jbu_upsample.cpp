// mmfeatup::jbu_upsample: fused JBU forward without the fixup term.
//   W = R * Sp / max(sum_t R * Sp, 1e-7),  out = adaptive_conv(source_padded, W)
// with R = range_kernel(keys, temperature, radius) and Sp the Gaussian spatial kernel.
#include "mmfeatup_ops.h"

namespace mmfeatup {

Tensor jbu_upsample_forward(const Tensor& source_padded, const Tensor& keys,
                            const Tensor& temperature, const Tensor& sigma, int64_t radius) {
  const char* op = "jbu_upsample";
  check_range_kernel_inputs(keys, temperature, radius, op);
  TORCH_CHECK_VALUE(source_padded.dim() == 4, op,
                    ": source_padded must be 4-D [B,C,H+2r,W+2r], got ", source_padded.dim(),
                    "-D");
  TORCH_CHECK_VALUE(source_padded.numel() > 0, op, ": source_padded must be non-empty");
  check_same_device_dtype(keys, "keys", source_padded, "source_padded", op);
  TORCH_CHECK_VALUE(sigma.numel() == 1, op, ": sigma must be a 0-d or 1-element tensor");
  check_same_device_dtype(keys, "keys", sigma, "sigma", op);
  TORCH_CHECK_VALUE(source_padded.size(0) == keys.size(0), op,
                    ": batch size mismatch: source_padded has B=", source_padded.size(0),
                    ", keys has B=", keys.size(0));
  TORCH_CHECK_VALUE(source_padded.size(2) == keys.size(2) + 2 * radius &&
                        source_padded.size(3) == keys.size(3) + 2 * radius,
                    op, ": source_padded spatial size (", source_padded.size(2), ", ",
                    source_padded.size(3), ") must be the keys' (H+2r, W+2r) = (",
                    keys.size(2) + 2 * radius, ", ", keys.size(3) + 2 * radius,
                    ") for radius=", radius);
  // CPU reads both channels-last (any layout works; channels-last input is not copied).
  const Tensor src = keys.is_cuda() ? source_padded.contiguous() : source_padded;
  const Tensor k = keys.is_cuda() ? keys.contiguous() : keys;
  const Tensor tau = temperature.reshape({}).contiguous();
  const Tensor sig = sigma.reshape({}).contiguous();
  if (k.is_cuda()) {
#ifdef MMFEATUP_WITH_CUDA
    return jbu_upsample_forward_cuda(src, k, tau, sig, radius);
#else
    TORCH_CHECK(false, "jbu_upsample: mmfeatup._ext was built without CUDA");
#endif
  }
  return jbu_upsample_forward_cpu(src, k, tau, sig, radius);
}

}  // namespace mmfeatup
