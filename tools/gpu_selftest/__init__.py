"""GPU self-test of the compiled mmfeatup ops: run ``python tools/gpu_selftest`` (see __main__.py)."""
