// The mmfeatup op library: schemas (TORCH_LIBRARY) and per-device kernels (TORCH_LIBRARY_IMPL).
// Fake (meta) kernels and autograd are registered from Python (mmfeatup/ops/library.py).
// Importing the Python module mmfeatup._ext loads this library and so registers the ops.
#include <Python.h>
#include <torch/library.h>

#include "mmfeatup_ops.h"

TORCH_LIBRARY(mmfeatup, m) {
  m.def("adaptive_conv(Tensor input, Tensor weights) -> Tensor", {at::Tag::pt2_compliant_tag});
  m.def("adaptive_conv_backward(Tensor grad_output, Tensor input, Tensor weights)"
        " -> (Tensor, Tensor)",
        {at::Tag::pt2_compliant_tag});
  m.def("range_kernel(Tensor keys, Tensor temperature, int radius) -> Tensor",
        {at::Tag::pt2_compliant_tag});
  m.def("range_kernel_backward(Tensor grad_output, Tensor output, Tensor keys, "
        "Tensor temperature, int radius) -> (Tensor, Tensor)",
        {at::Tag::pt2_compliant_tag});
  m.def("jbu_upsample(Tensor source_padded, Tensor keys, Tensor temperature, Tensor sigma, "
        "int radius) -> Tensor",
        {at::Tag::pt2_compliant_tag});
}

TORCH_LIBRARY_IMPL(mmfeatup, CPU, m) {
  m.impl("adaptive_conv", &mmfeatup::adaptive_conv_forward);
  m.impl("adaptive_conv_backward", &mmfeatup::adaptive_conv_backward);
  m.impl("range_kernel", &mmfeatup::range_kernel_forward);
  m.impl("range_kernel_backward", &mmfeatup::range_kernel_backward);
  m.impl("jbu_upsample", &mmfeatup::jbu_upsample_forward);
}

#ifdef MMFEATUP_WITH_CUDA
TORCH_LIBRARY_IMPL(mmfeatup, CUDA, m) {
  m.impl("adaptive_conv", &mmfeatup::adaptive_conv_forward);
  m.impl("adaptive_conv_backward", &mmfeatup::adaptive_conv_backward);
  m.impl("range_kernel", &mmfeatup::range_kernel_forward);
  m.impl("range_kernel_backward", &mmfeatup::range_kernel_backward);
  m.impl("jbu_upsample", &mmfeatup::jbu_upsample_forward);
}
#endif

// A minimal Python module so that `import mmfeatup._ext` loads the library.
// `with_cuda` tells which device kernels were compiled.
static struct PyModuleDef mmfeatup_ext_module = {PyModuleDef_HEAD_INIT, "_ext",
                                                 "mmfeatup compiled ops (torch.ops.mmfeatup.*)",
                                                 -1, nullptr};

PyMODINIT_FUNC PyInit__ext(void) {
  PyObject* module = PyModule_Create(&mmfeatup_ext_module);
  if (module == nullptr) return nullptr;
#ifdef MMFEATUP_WITH_CUDA
  PyModule_AddIntConstant(module, "with_cuda", 1);
#else
  PyModule_AddIntConstant(module, "with_cuda", 0);
#endif
  return module;
}
