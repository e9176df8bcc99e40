#!/usr/bin/env bash
# Run a tool of this folder on a Slurm cluster (GPUs): one task per GPU, mmengine's
# --launcher slurm (rank, world size and master address from Slurm; MASTER_PORT from the
# environment, else 29500). Used by slurm_train.sh and slurm_test.sh.
#   [GPUS=16 GPUS_PER_NODE=8] bash tools/slurm_tool.sh TOOL PARTITION JOB_NAME [tool args]
# GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS and PYTHON may be set in the environment.
# GPU only: on CPUs the tools support --launcher pytorch (torchrun_tool.sh) alone.
set -x
TOOL=$1 PARTITION=$2 JOB_NAME=$3
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# shellcheck disable=SC2086  # SRUN_ARGS is a list of words
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="${GPUS:-4}" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="${CPUS_PER_TASK:-5}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    "${PYTHON:-python}" -u "$ROOT/tools/$TOOL" --launcher="slurm" "${@:4}"
