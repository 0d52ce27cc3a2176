"""The host loop around the compiled Trainer: workdir, resume, chunks until total_steps,
evaluation, logging, checkpoints (the carry and the policy artifact), Ctrl-C and the NaN guard.
`main.py` only wires flags to `train()`."""

import os
import signal
import time

import jax
import ml_collections
import numpy as np

from ofe_jax.analysis import figures
from ofe_jax.checkpoint import Checkpointer
from ofe_jax.policy import policy_meta
from ofe_jax.training import mesh, workdir as workdir_lib
from ofe_jax.training.logs import RunLogger
from ofe_jax.training.loop import Trainer


class StopFlag:
    """First Ctrl-C asks for a checkpoint and a clean exit after the current chunk."""

    def __init__(self):
        self.requested = False
        self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)  # a second Ctrl-C interrupts at once

    def restore(self):
        signal.signal(signal.SIGINT, self._previous)


def _save(trainer: Trainer, checkpoints: Checkpointer, step: int, carry) -> None:
    checkpoints.save(step, carry, trainer.policy(carry),
                     policy_meta(trainer.config, trainer.env, step))


def _nonfinite(metrics: dict, seeds: list[int]) -> tuple[int, int] | None:
    """(seed, step or -1) of the first seed with a non-finite loss or parameter, else None."""
    for i, seed in enumerate(seeds):
        if metrics["nonfinite_step"][i] >= 0 or not metrics["params_finite"][i]:
            return seed, int(metrics["nonfinite_step"][i])
    return None


def _chunks(trainer: Trainer, carry, start: int, checkpoints: Checkpointer,
            logger: RunLogger, stop: StopFlag) -> int:
    """Runs chunks until the end (0), a non-finite value (1) or Ctrl-C (130)."""
    config, total = trainer.config, trainer.plan.total_steps
    seeds = [config.seed + i for i in range(config.seeds)]
    step, began = start, time.time()
    while step < total:
        tick = time.time()
        carry, metrics = trainer.run_chunk(carry)
        metrics = jax.device_get(metrics)
        previous, step = step, int(carry.step)
        bad = _nonfinite(metrics, seeds)
        if bad:
            where = f"at step {bad[1]}" if bad[1] >= 0 else f"in the chunk ending at step {step}"
            logger.message(f"error: non-finite loss or parameter in seed {bad[0]} {where}; "
                           f"stopped, the last good checkpoint "
                           f"(step {checkpoints.latest_step()}) is untouched")
            return 1
        eval_return = None
        if step // config.eval_every > previous // config.eval_every or step >= total:
            eval_return = np.asarray(jax.device_get(trainer.eval_return(carry)))
        logger.write(step, metrics, eval_return, (step - previous) / (time.time() - tick),
                     time.time() - began)
        if (step // config.checkpoint_every > previous // config.checkpoint_every
                or step >= total or stop.requested):
            _save(trainer, checkpoints, step, carry)
        if stop.requested:
            logger.message(f"interrupted: checkpoint saved at step {step}; run the same "
                           f"command to resume")
            return 130
    return 0


def train(config: ml_collections.ConfigDict, workdir: str) -> int:
    """Trains (or resumes) the run in `workdir`. Returns the process exit code.

    Several hosts: every process runs this with the same config and a workdir on a shared
    file system; orbax writes each checkpoint once, and only process 0 writes logs and plots."""
    if config.parallel.num_processes > 1:
        from ofe_jax.config import validation

        validation.validate_mesh(config, device_count=1 << 30)  # before jax.distributed
    mesh.initialize(config)  # multi-host start-up, before any device is used
    trainer = Trainer(config)  # validates the config
    main_process = jax.process_index() == 0
    if main_process:
        workdir_lib.prepare_workdir(workdir, config)
    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"), config.keep_checkpoints)
    start = checkpoints.latest_step()
    if start is None:
        carry, start = trainer.init(trainer.seed_keys()), 0
    else:
        carry = checkpoints.restore_carry(trainer.abstract_carry(), start)
    seeds = [config.seed + i for i in range(config.seeds)]
    logger = RunLogger(workdir, seeds, trainer.plan.total_steps, start, enabled=main_process)
    if start:
        logger.message(f"resumed from the checkpoint at step {start}")
    stop = StopFlag()
    try:
        code = _chunks(trainer, carry, start, checkpoints, logger, stop)
    finally:
        stop.restore()
        logger.close()
        checkpoints.close()
    if code == 0 and main_process:
        figures.learning_curve(workdir)
    return code
