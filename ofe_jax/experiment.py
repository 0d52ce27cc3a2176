"""The host loop around the compiled Trainer: workdir, resume, chunks until total_steps,
evaluation, logging, checkpoints, Ctrl-C and the NaN guard. `main.py` only wires flags to
`train()`."""

import json
import os
import signal
import time

import jax
import ml_collections
import numpy as np

from ofe_jax import parallel, plotting
from ofe_jax.checkpoint import Checkpointer
from ofe_jax.config import flatten
from ofe_jax.logging import RunLogger
from ofe_jax.train import Trainer

# Fields that may change between a run and its resumption (to extend a finished run).
RESUMABLE_CHANGES = ("total_steps",)


class RunError(RuntimeError):
    """A problem with the workdir or the run, reported to the user as one line."""


def prepare_workdir(workdir: str, config: ml_collections.ConfigDict) -> None:
    """Creates the workdir, checks it is writable and that it holds no run of another config,
    and records the resolved config as config.json."""
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise RunError(f"workdir {workdir!r} is not writable: {e.strerror or e}") from e
    path = os.path.join(workdir, "config.json")
    current = json.loads(config.to_json_best_effort())
    if os.path.exists(path):
        try:
            with open(path) as f:
                saved = json.load(f)
        except (OSError, ValueError) as e:
            raise RunError(f"{path} is unreadable ({e}); move it away or use another "
                           f"--workdir") from e
        a, b = flatten(saved), flatten(current)
        differ = sorted(k for k in a.keys() | b.keys()
                        if a.get(k) != b.get(k) and k not in RESUMABLE_CHANGES)
        if differ:
            shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in differ[:4])
            raise RunError(f"workdir {workdir!r} holds a run of a different config ({shown}"
                           f"{', ...' if len(differ) > 4 else ''}); use another --workdir")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(current, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


class _StopFlag:
    """First Ctrl-C asks for a checkpoint and a clean exit after the current chunk."""

    def __init__(self):
        self.requested = False
        self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)  # a second Ctrl-C interrupts at once

    def restore(self):
        signal.signal(signal.SIGINT, self._previous)


def train(config: ml_collections.ConfigDict, workdir: str) -> int:
    """Trains (or resumes) the run in `workdir`. Returns the process exit code.

    Several hosts: every process runs this with the same config and a workdir on a shared
    file system; orbax writes each checkpoint once, and only process 0 writes logs and plots."""
    parallel.initialize(config)  # multi-host start-up, before any device is used
    trainer = Trainer(config)  # validates the config
    main_process = jax.process_index() == 0
    if main_process:
        prepare_workdir(workdir, config)
    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"), config.keep_checkpoints)
    start = checkpoints.latest_step()
    if start is None:
        carry, start = trainer.init(trainer.seed_keys()), 0
    else:
        carry = checkpoints.restore(trainer.abstract_carry(), start)
    seeds = [config.seed + i for i in range(config.seeds)]
    total = trainer.num_chunks * trainer.steps_per_chunk
    logger = RunLogger(workdir, seeds, total, start, enabled=main_process)
    if start:
        logger.message(f"resumed from the checkpoint at step {start}")
    stop = _StopFlag()
    step, began, code = start, time.time(), 0
    try:
        while step < total:
            tick = time.time()
            carry, metrics = trainer.run_chunk(carry)
            metrics = jax.device_get(metrics)
            previous, step = step, int(carry.step)
            bad = [(seeds[i], int(metrics["nonfinite_step"][i]))
                   for i in range(len(seeds))
                   if metrics["nonfinite_step"][i] >= 0 or not metrics["params_finite"][i]]
            if bad:
                seed, at = bad[0]
                where = f"at step {at}" if at >= 0 else f"in the chunk ending at step {step}"
                logger.message(f"error: non-finite loss or parameter in seed {seed} {where}; "
                               f"stopped, the last good checkpoint "
                               f"(step {checkpoints.latest_step()}) is untouched")
                code = 1
                break
            eval_return = None
            if step // config.eval_every > previous // config.eval_every or step >= total:
                eval_return = np.asarray(jax.device_get(trainer.evaluate(carry)))
            elapsed = time.time() - tick
            logger.write(step, metrics, eval_return, (step - previous) / elapsed,
                         time.time() - began)
            if (step // config.checkpoint_every > previous // config.checkpoint_every
                    or step >= total or stop.requested):
                checkpoints.save(step, carry)
            if stop.requested:
                logger.message(f"interrupted: checkpoint saved at step {step}; run the same "
                               f"command to resume")
                code = 130
                break
    finally:
        stop.restore()
        logger.close()
        checkpoints.close()
    if code == 0 and main_process:
        plotting.learning_curve(workdir)
    return code
