"""Helpers of the command-line tests: run `python -m ofe_jax.main`, a finished quick-start run
shared by the test files, hash a workdir, pick the error lines."""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys

# The command-line runs of the tests are compile-bound (a few hundred steps of tiny networks):
# with XLA's backend optimisations off they take ~28% less CPU (measured on a 2-core Xeon: the
# quick start for 600 steps, 21.7 -> 15.3 CPU-s). What they test (files, exit codes, messages,
# resume) does not depend on it; runs compared with each other all use it.
FAST_COMPILE = "--xla_backend_optimization_level=0"


def cli_env(**extra) -> dict:
    """os.environ with FAST_COMPILE added to XLA_FLAGS (and `extra` set)."""
    env = {**os.environ, **extra}
    env["XLA_FLAGS"] = " ".join(f for f in (env.get("XLA_FLAGS", ""), FAST_COMPILE) if f)
    return env


SHORT = ["--config.total_steps=600", "--config.log_every=200", "--config.random_steps=200",
         "--config.eval_every=200", "--config.checkpoint_every=400", "--config.eval_episodes=2",
         "--config.replay.capacity=5000"]


def run_main(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "ofe_jax.main", *args], capture_output=True,
                          text=True, timeout=timeout, env=cli_env())


def finished_quickstart(tmp_path_factory, worker_id: str) -> str:
    """The workdir of one finished `main --config=configs/quickstart.py SHORT` run, made once per
    test session and shared by the xdist workers (the first to take the lock runs it). Tests
    read it or copy it; none changes it."""
    base = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        base = base.parent  # the session's directory, shared by its workers
    workdir, done = base / "finished_quickstart", base / "finished_quickstart.done"
    with open(base / "finished_quickstart.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(workdir, ignore_errors=True)  # a failed attempt's leftovers
            result = run_main("--config=configs/quickstart.py", f"--workdir={workdir}", *SHORT)
            assert result.returncode == 0, result.stderr[-3000:]
            done.touch()
    return str(workdir)


def digest(workdir) -> dict:
    """Hash of every file in the workdir (to show that nothing was overwritten)."""
    out = {}
    for root, _, files in os.walk(workdir):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, workdir)] = hashlib.sha256(f.read()).hexdigest()
    return out


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines()
            if line.startswith(("error:", "FATAL Flags parsing error"))]
