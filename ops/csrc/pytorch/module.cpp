// The Python module mmfeatup._ext: importing it loads this library, whose static
// initialisers register the ops (MMFEATUP_REGISTER_OP in <op>.cpp, register_op.h).
// `torch.ops.load_library(path)` registers the same ops (autograd included) without it.
#include <Python.h>

static struct PyModuleDef mmfeatup_ext_module = {PyModuleDef_HEAD_INIT, "_ext",
                                                 "mmfeatup compiled ops (torch.ops.mmfeatup.*)",
                                                 -1, nullptr};

PyMODINIT_FUNC PyInit__ext(void) {
  PyObject* module = PyModule_Create(&mmfeatup_ext_module);
  if (module == nullptr) return nullptr;
#ifdef MMFEATUP_WITH_CUDA
  PyModule_AddIntConstant(module, "with_cuda", 1);  // which device kernels were compiled
#else
  PyModule_AddIntConstant(module, "with_cuda", 0);
#endif
  return module;
}
