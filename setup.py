"""Build and install mmfeatup.

The compiled ops (``mmfeatup._ext``) are built from ``ops/csrc``:

* the C++ CPU kernels always;
* the CUDA kernels when torch has CUDA and nvcc is found (``CUDA_HOME``), or
  when ``FORCE_CUDA=1``;
* only the CPU kernels when ``MMFEATUP_WITH_CUDA=0`` (fast local builds; wins
  over ``FORCE_CUDA``);
* nothing when ``MMFEATUP_WITH_OPS=0`` (the Python API then falls back to the
  pure-PyTorch reference).

Development build: ``python setup.py build_ext --inplace``.

Install with ``pip install --no-build-isolation -e .`` (build isolation would
download another torch). Nothing is downloaded during the build.
"""
import glob
import os

from setuptools import find_packages, setup

ROOT = os.path.dirname(os.path.abspath(__file__))


def read_version() -> str:
    scope: dict = {}
    with open(os.path.join(ROOT, 'mmfeatup', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def cuda_requested() -> bool:
    """Whether to compile the CUDA kernels (see the module docstring)."""
    if os.getenv('MMFEATUP_WITH_CUDA', '') == '0':
        return False
    if os.getenv('FORCE_CUDA', '0') == '1':
        return True
    import torch
    from torch.utils.cpp_extension import CUDA_HOME
    return (torch.version.cuda is not None and CUDA_HOME is not None
            and os.path.exists(os.path.join(CUDA_HOME, 'bin', 'nvcc')))


def make_extensions():
    if os.getenv('MMFEATUP_WITH_OPS', '1') == '0':
        return [], {}
    from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension

    csrc = os.path.join('ops', 'csrc')
    sources = sorted(glob.glob(os.path.join(csrc, 'pytorch', '*.cpp')) +
                     glob.glob(os.path.join(csrc, 'pytorch', 'cpu', '*.cpp')))
    include_dirs = [os.path.abspath(os.path.join(csrc, 'common'))]
    # -fopenmp: at::parallel_for is header-inlined and uses OpenMP like torch itself.
    extra_compile_args = {'cxx': ['-O3', '-g0', '-std=c++20', '-fopenmp']}
    extra_link_args = ['-fopenmp']
    define_macros = []
    if cuda_requested():
        sources += sorted(glob.glob(os.path.join(csrc, 'pytorch', 'cuda', '*.cu')))
        define_macros.append(('MMFEATUP_WITH_CUDA', None))
        extra_compile_args['nvcc'] = ['-O3', '-std=c++20', '--expt-relaxed-constexpr']
        ext_cls = CUDAExtension
    else:
        ext_cls = CppExtension
    ext = ext_cls(
        name='mmfeatup._ext',
        sources=sources,
        include_dirs=include_dirs,
        define_macros=define_macros,
        extra_compile_args=extra_compile_args,
        extra_link_args=extra_link_args)
    # ninja (when installed) gives incremental, parallel builds; torch falls back to
    # setuptools' sequential compile without it.
    return [ext], {'build_ext': BuildExtension.with_options(use_ninja=True)}


ext_modules, cmdclass = make_extensions()

setup(
    name='mmfeatup',
    version=read_version(),
    description='FeatUp feature upsamplers (JBU, implicit) as an OpenMMLab plugin',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    package_data={'mmfeatup': ['weights/*.pth', 'weights/*.md']},
    python_requires='>=3.9',
    install_requires=[
        # torch.library.register_fake / register_autograd (mmfeatup.ops) need 2.4
        'torch>=2.4', 'mmengine==0.10.7', 'mmsegmentation==1.2.2', 'numpy',
        # mmengine 0.10.7 resolves `mmseg::` config bases with pkg_resources (gone in 81)
        'setuptools<81',
    ],
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    zip_safe=False,
)
