"""The host loop around the compiled Trainer: the workdir (locked: one writer), resume, chunks
until total_steps, evaluation, logging, asynchronous checkpoints (the carry and the policy
artifact), signals and the NaN guard. `main.py` only wires flags to `train()`.

Exit codes: 0 done; 1 error (one `error:` line: bad config, workdir in use, a checkpoint that
cannot be read or written, a non-finite loss); 130 / 143 / 138 after SIGINT (Ctrl-C) /
SIGTERM / SIGUSR1 (what cluster schedulers send before they kill or as a warning): the current
chunk finishes, a checkpoint is saved, and running the same command resumes. A signal that
comes before the first chunk is done (during compilation) stops the run when that chunk ends,
with its checkpoint. A second signal interrupts at once (a checkpoint being written then is
left as a temporary directory that is never read). In a multi-host run a signal received by
any process stops every process at the same chunk (the scheduler may signal one host only)."""

import os
import signal
import time

import jax
import ml_collections
import numpy as np

from ofe_jax.checkpoint import Checkpointer
from ofe_jax.config import validation
from ofe_jax.errors import UserError
from ofe_jax.policy import policy_meta
from ofe_jax.training import multihost, schedule, workdir as workdir_lib
from ofe_jax.training.logs import RunLogger
from ofe_jax.training.loop import Trainer

STOP_SIGNALS = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGUSR1: "SIGUSR1"}


class StopFlag:
    """The first SIGINT/SIGTERM/SIGUSR1 asks for a checkpoint and a clean exit after the current
    chunk; the handlers are then the previous ones again, so a second signal acts at once."""

    def __init__(self):
        self.signum: int | None = None
        self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)

    def _handle(self, signum, frame):
        self.signum = signum
        self.restore()

    def restore(self):
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def _save(trainer: Trainer, checkpoints: Checkpointer, step: int, carry) -> None:
    checkpoints.save(step, carry, trainer.policy(carry),
                     policy_meta(trainer.config, trainer.env, step, trainer.member_seeds(),
                                 trainer.member_points()))


def _members(trainer: Trainer) -> list[str]:
    """Each member's name in messages: "seed 3", or "seed 3 [tau=0.01]" in a grid."""
    from ofe_jax.config.grid import point_label

    return [f"seed {s}" + (f" [{point_label(p)}]" if p else "")
            for s, p in zip(trainer.member_seeds(), trainer.member_points())]


def _nonfinite(metrics: dict, names: list[str]) -> tuple[str, int] | None:
    """(member, step or -1) of the first member with a non-finite loss or parameter."""
    for i, name in enumerate(names):
        if metrics["nonfinite_step"][i] >= 0 or not metrics["params_finite"][i]:
            return name, int(metrics["nonfinite_step"][i])
    return None


def _chunks(trainer: Trainer, carry, start: int, checkpoints: Checkpointer,
            logger: RunLogger, stop: StopFlag) -> int:
    """Runs chunks until the end (0), a non-finite value (1) or a stop signal (128 + signum).
    Every decision is the same in every process of a multi-host run: the metrics are gathered
    and a signal received by one process stops them all."""
    config, total = trainer.config, trainer.plan.total_steps
    names = _members(trainer)
    step, began = start, time.time()
    while step < total:
        tick = time.time()
        carry, metrics = trainer.run_chunk(carry)
        metrics = multihost.to_host(metrics)
        signum = multihost.any_signal(stop.signum)
        previous, step = step, int(carry.step)
        bad = _nonfinite(metrics, names)
        if bad:
            checkpoints.wait()
            where = f"at step {bad[1]}" if bad[1] >= 0 else f"in the chunk ending at step {step}"
            logger.message(f"error: non-finite loss or parameter in {bad[0]} {where}; "
                           f"stopped, the last good checkpoint "
                           f"(step {checkpoints.latest_step()}) is untouched")
            return 1
        eval_return = None
        if schedule.evaluates(config, previous, step, total):
            eval_return = np.asarray(multihost.to_host(trainer.eval_return(carry)))
        logger.write(step, metrics, eval_return, (step - previous) / (time.time() - tick),
                     time.time() - began)
        if schedule.saves(config, previous, step, total) or signum:
            _save(trainer, checkpoints, step, carry)
        if signum:
            checkpoints.wait()
            logger.message(f"interrupted: checkpoint saved at step {step} "
                           f"({STOP_SIGNALS[signum]}); run the same command to resume")
            return 128 + signum
    checkpoints.wait()
    return 0


def _start(trainer: Trainer, checkpoints: Checkpointer):
    """(carry, step): the latest checkpoint's, or a fresh carry at step 0."""
    start = checkpoints.latest_step()
    if start is None:
        return trainer.init(trainer.seed_keys()), 0
    return checkpoints.restore_carry(trainer.abstract_carry(), start), start


def train(config: ml_collections.ConfigDict, workdir: str) -> int:
    """Trains (or resumes) the run in `workdir`. Returns the process exit code.

    Several hosts: every process runs this with the same config and a workdir on a shared
    file system; orbax writes each checkpoint once, and only process 0 locks the workdir and
    writes logs and plots. A process that fails (its own error, or a collective with a process
    that died) prints one `error:` line and ends at once (multihost.exit_now): the others then
    fail in their next collective instead of waiting for it."""
    stop = StopFlag()  # first thing: a signal during set-up or compilation is honoured too
    try:
        if config.parallel.num_processes == 1:
            return _train(config, workdir, stop)
        validation.validate_mesh(config, device_count=1 << 30)  # before jax.distributed
        multihost.initialize(config)  # before any device is used
        try:
            return _train(config, workdir, stop)
        except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - each ends the process
            known = isinstance(e, (UserError, jax.errors.JaxRuntimeError, KeyboardInterrupt))
            multihost.exit_now(multihost.describe(e, config.parallel.process_id),
                               130 if isinstance(e, KeyboardInterrupt) else 1,
                               details=not known)
    finally:
        stop.restore()


def _train(config: ml_collections.ConfigDict, workdir: str, stop: StopFlag) -> int:
    lock = None
    try:
        trainer = Trainer(config)  # validates the config
        main_process = jax.process_index() == 0
        if main_process:
            lock = workdir_lib.WorkdirLock(workdir).acquire()
            workdir_lib.prepare_workdir(workdir, config)
        return _train_locked(trainer, workdir, stop, lock)
    finally:
        if lock is not None:
            lock.release()


def _train_locked(trainer: Trainer, workdir: str, stop: StopFlag,
                  lock: workdir_lib.WorkdirLock | None) -> int:
    """The run once its workdir is locked (lock: None on processes other than 0)."""
    config, main_process = trainer.config, lock is not None
    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"), config.keep_checkpoints)
    try:
        carry, start = _start(trainer, checkpoints)
        if lock is not None:
            lock.record_holder()  # the run goes ahead: a refused one changes no file
        logger = RunLogger(workdir, trainer.member_seeds(), trainer.plan.total_steps, start,
                           enabled=main_process, points=trainer.member_points())
        try:
            if start:
                logger.message(f"resumed from the checkpoint at step {start}")
            code = _chunks(trainer, carry, start, checkpoints, logger, stop)
        finally:
            logger.close()
    finally:
        checkpoints.close()
    if code == 0 and main_process:
        from ofe_jax.analysis import figures  # matplotlib, scipy: only at the end

        figures.learning_curve(workdir)
    return code
