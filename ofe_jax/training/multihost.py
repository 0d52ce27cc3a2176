"""Several processes (one per host) running one program: start-up, what the host loop reads
from the other processes, and ending every process quickly when one of them fails.

Every process runs the same host loop on the same config; the mesh (mesh.py) spans the devices
of all of them. What the loop reads (per-seed metrics, eval returns) may live on other
processes' devices, so it is gathered with `to_host`, a collective; decisions that change what
the processes do next (stop after a signal) are agreed with `any_signal`, so that no process
waits alone in a collective the others never enter.

When a process dies, the others learn it in one of two ways (measured on 2 CPU processes, see
README "Several devices and hosts"): the next collective fails (gloo on CPU: "Connection closed
by peer"; raised in Python as a JaxRuntimeError), or JAX's coordination service (hosted by
process 0) reports it and its C++ client ends the process at once (process 0 gone: within a
second; another process silent for `parallel.heartbeat_timeout_s`). The first is turned into
one `error:` line here (`exit_now`); the second cannot be caught inside the process (no Python
hook in jax.distributed), so `ofe_jax.supervise` runs the command as a child and reports it.
"""

import os
import sys
import traceback

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from ofe_jax import supervise
from ofe_jax.errors import UserError


def initialize(config: ml_collections.ConfigDict) -> None:
    """Multi-host start-up, before any device is used; a no-op for one process. CPU devices of
    different processes talk through gloo (a setting of the CPU backend alone; older jax
    versions default to none)."""
    p = config.parallel
    if p.num_processes == 1:
        return
    if jax.config.jax_cpu_collectives_implementation in (None, "none"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    # JAX's preemption service would take SIGTERM from run.StopFlag (its C++ handler replaces
    # ours); the host loop agrees on stopping itself (any_signal).
    jax.config.update("jax_enable_preemption_service", False)
    jax.distributed.initialize(coordinator_address=p.coordinator_address,
                               num_processes=p.num_processes, process_id=p.process_id,
                               initialization_timeout=p.initialization_timeout_s,
                               heartbeat_timeout_seconds=p.heartbeat_timeout_s,
                               shutdown_timeout_seconds=p.shutdown_timeout_s)


def to_host(tree):
    """numpy values of a pytree of arrays that may be split across processes. With several
    processes this is a collective (process_allgather): every process calls it, in order."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def any_signal(signum: int | None) -> int | None:
    """The stop signal of this process or, failing that, of another; None in every process if
    no process received one (a collective: whether to stop is the same in every process)."""
    if jax.process_count() == 1:
        return signum
    received = multihost_utils.process_allgather(np.int32(signum or 0))  # [processes]
    return signum or int(np.max(received)) or None


def agree_min(value: int) -> int:
    """The smallest of every process's `value` (a collective with several processes): what
    the processes of one run use when each measured its own (the call lengths)."""
    if jax.process_count() == 1:
        return value
    return int(np.min(multihost_utils.process_allgather(np.int32(value))))


def _lost_contact(e: BaseException) -> str | None:
    """The first line of a JaxRuntimeError behind `e` that says a peer is gone, else None."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, jax.errors.JaxRuntimeError):
            first = next((line.strip() for line in str(e).splitlines() if line.strip()), "")
            if any(word in first for word in ("Gloo", "NCCL", "peer", "onnection")):
                return first
        e = e.__cause__ or e.__context__
    return None


def describe(e: BaseException, process_id: int) -> str:
    """One line for a failure of process `process_id` of a multi-host run."""
    lost = _lost_contact(e)
    if lost:  # also when it surfaced as a failed checkpoint save
        return (f"process {process_id} {supervise.LOST_CONTACT} of the run (it has probably "
                f"died; see its output): {lost}")
    if isinstance(e, KeyboardInterrupt):
        return f"process {process_id} interrupted at once (a second signal)"
    if isinstance(e, UserError):
        return str(e)
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return (f"process {process_id} stopped: {type(e).__name__}: "
            f"{lines[0] if lines else '(no message)'}")


def exit_now(message: str, code: int = 1, details: bool = False) -> None:
    """Prints `error: message` (after the traceback if `details`) and ends the process at once.

    A process of a multi-host run that fails must not go through JAX's exit-time shutdown: it
    waits at a barrier for every other process (parallel.shutdown_timeout_s), which the others,
    waiting in a collective for this one, never reach. Leaving at once makes their collective
    fail instead, so they stop too."""
    if details:
        traceback.print_exc()
    sys.stdout.flush()
    print(f"error: {message}", file=sys.stderr, flush=True)
    os._exit(code)
