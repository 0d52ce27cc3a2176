"""Several hosts, for real: `python -m ofe_jax.main` as 2 processes on 127.0.0.1
(jax.distributed, gloo, 2 forced CPU devices each).

A FAST subset of benchmarks/multihost.py, in ONE 2-process launch of the random-action phase
(4 seeds, seeds_devices=4 across both processes, one chunk of 200 steps): what it collected and
logged equals the same seeds trained here in one process (the random phase is bitwise equal on
any number of devices, tests/test_parallel.py), its checkpoint is written once and restores here
on one device (the carry and the policy artifact), and only process 0 logs. About 60 s on a
2-core CPU shared with other jobs (the launch ~40 s, the reference here ~20 s). The data axis
across processes, resuming, learning, and a killed process are checked by the script (several
more launches, minutes)."""

import csv
import os
import socket
import subprocess
import sys

import jax
import numpy as np

from ofe_jax.checkpoint import Checkpointer
from ofe_jax.config import quickstart
from ofe_jax.policy import load_policies
from ofe_jax.training import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = ["--config=configs/quickstart.py", "--config.seeds=4", "--config.total_steps=200",
        "--config.log_every=200", "--config.random_steps=200", "--config.eval_episodes=2",
        "--config.replay.capacity=1000", "--config.agent.network.units=16",
        "--config.agent.batch_size=32", "--config.parallel.seeds_devices=4"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(workdir: str) -> list[subprocess.Popen]:
    port = _free_port()
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    return [subprocess.Popen(
        [sys.executable, "-m", "ofe_jax.main", f"--workdir={workdir}", *ARGS,
         "--config.parallel.num_processes=2", f"--config.parallel.process_id={k}",
         f"--config.parallel.coordinator_address=127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(2)]


def _finish(procs: list[subprocess.Popen]) -> list[subprocess.CompletedProcess]:
    try:
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return [subprocess.CompletedProcess(p.args, p.returncode, *out)
            for p, out in zip(procs, outs)]


def _one_process():
    """The same seeds in this process (one device): the carry and metrics after the chunk."""
    config = quickstart.get_config()  # ARGS but the mesh
    config.seeds, config.total_steps, config.log_every, config.random_steps = 4, 200, 200, 200
    config.eval_episodes, config.replay.capacity = 2, 1000
    config.agent.network.units, config.agent.batch_size = 16, 32
    trainer = Trainer(config)
    carry, metrics = trainer.run_chunk(trainer.init(trainer.seed_keys()))
    return trainer, carry, jax.device_get(metrics)


def test_two_processes_equal_one_and_only_process_0_logs(tmp_path):
    workdir = str(tmp_path / "run")
    procs = _start(workdir)
    try:
        trainer, carry, metrics = _one_process()  # while the two processes run
    finally:
        zero, one = _finish(procs)
    assert zero.returncode == 0 and one.returncode == 0, (zero.stderr + one.stderr)[-3000:]

    # d: logs, progress and plots from process 0 only
    assert "step/s" in zero.stderr and one.stderr.strip() == "", one.stderr[-2000:]
    assert all(line.startswith("[Gloo]") for line in one.stdout.splitlines() if line.strip())
    with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
        logged = list(csv.DictReader(f))
    assert [(int(r["step"]), int(r["seed"])) for r in logged] == [(200, s) for s in range(4)]
    assert {"config.json", "learning_curve.png", "checkpoints"} <= set(os.listdir(workdir))

    # a: the same seeds in one process (one device here): same data, same episode statistics
    for i, row in enumerate(logged):
        for k in ("episode_return", "episode_length"):
            assert float(row[k]) == round(float(metrics[k][i]), 6), (k, i)
        assert int(row["episodes"]) == int(metrics["episodes"][i])

    # c (its first half): one checkpoint, written once, whole; restored here on one device
    directory = os.path.join(workdir, "checkpoints")
    assert sorted(os.listdir(directory)) == ["200"]
    checkpoints = Checkpointer(directory, create=False)
    try:
        restored = checkpoints.restore_carry(trainer.abstract_carry())
    finally:
        checkpoints.close()
    assert int(restored.step) == 200
    for a, b in zip(jax.tree.leaves(restored.buffer), jax.tree.leaves(carry.buffer)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(jax.tree.leaves(restored.env), jax.tree.leaves(carry.env)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert [p.seed for p in load_policies(workdir)] == [0, 1, 2, 3]  # the policy artifact, one device
