#!/usr/bin/env bash
# Distributed training with torchrun: NCCL on GPUs, gloo on CPUs (handled by tools/train.py).
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args]
# NNODES, NODE_RANK, PORT, MASTER_ADDR and PYTHON may be set in the environment (torchrun_tool.sh).
exec bash "$(dirname "$0")/torchrun_tool.sh" train.py "$2" "$1" "${@:3}"
