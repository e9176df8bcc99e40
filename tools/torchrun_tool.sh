#!/usr/bin/env bash
# Run a tool of this folder under torchrun (python -m torch.distributed.run), --launcher pytorch:
# NCCL on GPUs, gloo on CPUs (handled by the tools). Used by dist_train.sh and dist_test.sh.
#   bash tools/torchrun_tool.sh TOOL NPROCS_PER_NODE [tool args]
# NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500) and PYTHON may be set in the
# environment, as with mmseg's scripts; run the same command on every node.
set -euo pipefail
TOOL=$1
NPROCS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROCS" --master_port="$PORT" \
    "$ROOT/tools/$TOOL" --launcher pytorch "${@:3}"
