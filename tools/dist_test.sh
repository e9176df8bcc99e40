#!/usr/bin/env bash
# Distributed testing with torchrun: NCCL on GPUs, gloo on CPUs (handled by tools/test.py).
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args]
# NNODES, NODE_RANK, PORT, MASTER_ADDR and PYTHON may be set in the environment (torchrun_tool.sh).
exec bash "$(dirname "$0")/torchrun_tool.sh" test.py "$3" "$1" "$2" "${@:4}"
