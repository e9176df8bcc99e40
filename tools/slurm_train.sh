#!/usr/bin/env bash
# Distributed training on a Slurm cluster (GPUs), see slurm_tool.sh.
#   [GPUS=16 GPUS_PER_NODE=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args]
exec bash "$(dirname "$0")/slurm_tool.sh" train.py "$@"
