"""The run directory: one writer at a time (an OS lock), config.json written (and compared with
the one already there on resume).

The lock is `<workdir>/.lock`, held with `fcntl.flock` for the life of the run; the file holds
the holder's host and pid. The OS drops the lock when its process dies, however it dies, so a
stale file never blocks. A second run on the same workdir fails at once, before it writes
anything. Read-only commands (evaluate, plot, report) take no lock. On a shared file system the
lock works where the file system supports flock (NFSv4, Lustre, local disks); a multi-host run
takes it on process 0 only."""

import fcntl
import json
import os
import socket

import ml_collections

from ofe_jax.config import flatten
from ofe_jax.errors import RunError

# Fields that may change between a run and its resumption: total_steps (to extend a finished
# run) and how the processes of a multi-host run find each other (a new launch, new addresses).
RESUMABLE_CHANGES = ("total_steps", "parallel.coordinator_address",
                     "parallel.initialization_timeout_s", "parallel.heartbeat_timeout_s",
                     "parallel.shutdown_timeout_s")
LOCK_FILE = ".lock"


class WorkdirLock:
    """An exclusive lock on a run directory (see the module docstring)."""

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.path = os.path.join(workdir, LOCK_FILE)
        self._fd: int | None = None

    def acquire(self) -> "WorkdirLock":
        try:
            os.makedirs(self.workdir, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise RunError(f"workdir {self.workdir!r} is not writable: {e.strerror or e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 256).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunError(f"workdir {self.workdir!r} is in use by {holder} (lock "
                           f"{self.path}); wait for that run to end or use another --workdir")
        self._fd = fd
        return self

    def record_holder(self) -> None:
        """Writes this process's host and pid into the lock file (once the run goes ahead: a
        run refused after taking the lock leaves the file as it was)."""
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"host {socket.gethostname()} pid {os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def config_differences(saved: dict, current: dict) -> str:
    """"field: old -> new, ..." (at most 4 named) of the fields in which a saved config.json
    and a config (as JSON) differ, RESUMABLE_CHANGES aside; "" when a run may resume."""
    a, b = flatten(saved), flatten(current)
    differ = sorted(k for k in a.keys() | b.keys()
                    if a.get(k) != b.get(k) and k not in RESUMABLE_CHANGES)
    shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in differ[:4])
    return shown + (", ..." if len(differ) > 4 else "")


def check_workdir(workdir: str, config: ml_collections.ConfigDict) -> None:
    """Checks that the (locked) workdir holds no run of another config (its config.json)."""
    path = os.path.join(workdir, "config.json")
    if os.path.exists(path):
        try:
            with open(path) as f:
                saved = json.load(f)
        except (OSError, ValueError) as e:
            raise RunError(f"{path} is unreadable ({e}); move it away or use another "
                           f"--workdir") from e
        shown = config_differences(saved, json.loads(config.to_json_best_effort()))
        if shown:
            raise RunError(f"workdir {workdir!r} holds a run of a different config ({shown}); "
                           f"use another --workdir")


def record_config(workdir: str, config: ml_collections.ConfigDict) -> None:
    """Writes the resolved config as config.json (atomically), once the run goes ahead: a run
    refused later (e.g. by a damaged checkpoint) leaves the file as it was."""
    path, tmp = os.path.join(workdir, "config.json"), os.path.join(workdir, "config.json.tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(json.loads(config.to_json_best_effort()), f, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except OSError as e:
        raise RunError(f"cannot write {path}: {e.strerror or e}") from e
