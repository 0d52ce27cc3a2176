"""Helpers of the command-line tests: run `python -m ofe_jax.main`, hash a workdir, pick the
error lines."""

import hashlib
import os
import subprocess
import sys

SHORT = ["--config.total_steps=600", "--config.log_every=200", "--config.random_steps=200",
         "--config.eval_every=200", "--config.checkpoint_every=400", "--config.eval_episodes=2",
         "--config.replay.capacity=5000"]


def run_main(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "ofe_jax.main", *args], capture_output=True,
                          text=True, timeout=timeout)


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
