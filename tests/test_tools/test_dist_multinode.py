"""Multi-node training through ``tools/dist_train.sh``: 2 "nodes" x 1 process on localhost.

Two ``bash tools/dist_train.sh CONFIG 1`` run concurrently with ``NNODES=2``,
``NODE_RANK=0/1``, ``MASTER_ADDR=127.0.0.1`` and one free ``PORT``, exactly as on two
machines (torchrun's default static rendezvous: node 0 hosts the store, node 1 joins it),
from a working directory outside the repository. gloo on CPUs.
"""
import glob
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from dist_param_digest_hook import param_digest  # this folder's test helper

from mmfeatup.datasets.ade_demo import make_ade_demo

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
DIST_TRAIN = osp.join(ROOT, 'tools', 'dist_train.sh')
DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'segformer_mit-b0_jbu_ade-demo-128x128.py')
SIZE = 64
ITERS = 3
TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def shrink_options(data_root: str) -> list:
    """``--cfg-options`` turning the demo config into a 3-iteration run (its own 128-pixel crops
    of the small samples) plus the digest hook."""
    options = [
        f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
        f'default_hooks.checkpoint.interval={ITERS}', 'default_hooks.logger.interval=1',
        'train_dataloader.batch_size=2',
        # an extra default hook (a dict key, unlike the custom_hooks list, can be added from the
        # command line), named by its import path: mmengine's Registry.get imports it
        # (`custom_imports` would be too late: Config.fromfile applies it before --cfg-options)
        'default_hooks.param_digest.type=dist_param_digest_hook.DistParamDigestHook',
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={data_root}', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    return options


def stop(procs) -> None:
    """Terminate the process groups (bash, torchrun) that are still running.

    torchrun starts its workers in sessions of their own and ends them on SIGTERM (SIGKILL
    after 30 s), hence the grace period before SIGKILL.
    """
    for sig, grace_s in ((signal.SIGTERM, 40), (signal.SIGKILL, 5)):
        alive = [p for p in procs if p.poll() is None]
        for proc in alive:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while any(p.poll() is None for p in alive) and time.monotonic() < deadline:
            time.sleep(0.2)


@pytest.mark.dist
@pytest.mark.slow
def test_two_nodes_one_process_each_train_in_step(tmp_path):
    data_root = str(tmp_path / 'ade_demo')
    make_ade_demo(data_root, num_train=4, num_val=2, size=SIZE, seed=0)
    work_dir = str(tmp_path / 'work')
    port = str(free_port())
    pythonpath = os.pathsep.join(filter(None, [HERE, os.environ.get('PYTHONPATH')]))
    procs, outputs = [], []
    try:
        for node_rank in (0, 1):
            env = dict(os.environ, NNODES='2', NODE_RANK=str(node_rank),
                       MASTER_ADDR='127.0.0.1', PORT=port, PYTHON=sys.executable,
                       OMP_NUM_THREADS='1', PYTHONPATH=pythonpath)
            out_path = str(tmp_path / f'node{node_rank}.out')
            outputs.append(out_path)
            with open(out_path, 'w') as out:
                procs.append(subprocess.Popen(
                    ['bash', DIST_TRAIN, DEMO_CONFIG, '1', '--work-dir', work_dir,
                     '--cfg-options', *shrink_options(data_root)],
                    cwd=str(tmp_path), env=env, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True))
        deadline = time.monotonic() + TIMEOUT_S
        timed_out = False
        while any(p.poll() is None for p in procs):
            if any(p.poll() not in (None, 0) for p in procs):
                break  # one node failed: do not wait for the other one to hang
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.5)
    finally:
        stop(procs)

    def logs() -> str:
        return '\n'.join(f'===== node {i} (exit {p.returncode}) =====\n' + open(o).read()[-6000:]
                         for i, (p, o) in enumerate(zip(procs, outputs)))

    assert not timed_out, f'timed out after {TIMEOUT_S}s\n' + logs()
    assert [p.returncode for p in procs] == [0, 0], logs()

    checkpoint = osp.join(work_dir, f'iter_{ITERS}.pth')
    assert osp.isfile(checkpoint), logs()
    records = []
    for rank in (0, 1):
        path = osp.join(work_dir, f'param_digest_rank{rank}.json')
        assert osp.isfile(path), logs()
        with open(path) as f:
            records.append(json.load(f))
    assert [r['rank'] for r in records] == [0, 1]
    assert all(r['world_size'] == 2 and r['iter'] == ITERS for r in records), records
    assert records[0]['names'] == records[1]['names']
    assert records[0]['initial_digest'] == records[1]['initial_digest']  # DDP's broadcast
    assert records[0]['digest'] != records[0]['initial_digest'], 'training changed nothing'
    assert records[0]['digest'] == records[1]['digest'], 'the ranks ended with different weights'

    # the saved checkpoint holds those very weights
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    assert param_digest((n, state[n]) for n in records[0]['names']) == records[0]['digest']

    # rank 0's log file (the only one written at INFO) shows a world of 2 processes
    log_files = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert len(log_files) == 1, log_files
    with open(log_files[0]) as f:
        text = f.read()
    assert 'Distributed launcher: pytorch' in text
    assert 'Distributed training: True' in text
    assert 'GPU number: 2' in text  # mmengine's name for the world size
