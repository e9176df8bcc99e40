#!/usr/bin/env bash
# Distributed testing on a Slurm cluster (GPUs), see slurm_tool.sh.
#   [GPUS=16 GPUS_PER_NODE=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [args]
exec bash "$(dirname "$0")/slurm_tool.sh" test.py "$@"
