"""The host loop around the compiled Trainer: the workdir (locked: one writer), resume, chunks
until total_steps, evaluation, logging, asynchronous checkpoints (the carry and the policy
artifact), signals and the NaN guard. `main.py` only wires flags to `train()`.

Exit codes: 0 done; 1 error (one `error:` line: bad config, workdir in use, a checkpoint that
cannot be read or written, a non-finite loss); 130 / 143 / 138 after SIGINT (Ctrl-C) /
SIGTERM / SIGUSR1 (what cluster schedulers send before they kill or as a warning): the current
compiled call finishes (its length is bounded in wall time: config.call_seconds, see
schedule.Pacing), a checkpoint is saved, and running the same command resumes exactly. A
signal during set-up or compilation stops the run after its first call, with a checkpoint.
While the device works the main thread only waits (`_wait`), so handlers run at once; a second
signal ends the process at once with one line (a checkpoint being written then is left as a
temporary directory that is never read). In a multi-host run a signal received by any process
stops every process after the same call (the scheduler may signal one host only)."""

import concurrent.futures
import os
import signal
import time

import jax
import ml_collections
import numpy as np

from ofe_jax import replay
from ofe_jax.checkpoint import Checkpointer
from ofe_jax.config import validation
from ofe_jax.errors import UserError
from ofe_jax.policy import policy_meta
from ofe_jax.training import multihost, schedule, workdir as workdir_lib
from ofe_jax.training.logs import RunLogger
from ofe_jax.training import loop
from ofe_jax.training.trainer import Trainer

STOP_SIGNALS = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGUSR1: "SIGUSR1"}


class StopFlag:
    """The first SIGINT/SIGTERM/SIGUSR1 asks for a checkpoint and a clean exit after the current
    call; a second one ends the process at once, with one line naming the last checkpoint."""

    def __init__(self):
        self.signum: int | None = None
        self.last_checkpoint: int | None = None  # step of the last complete checkpoint
        self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
            return
        where = ("no checkpoint was complete" if self.last_checkpoint is None else
                 f"the last complete checkpoint is at step {self.last_checkpoint}")
        # On a line of its own: a progress bar may have left the cursor mid-line.
        os.write(2, f"\ninterrupted again ({STOP_SIGNALS[signum]}): stopped at once; {where}; "
                    f"run the same command to resume\n".encode())
        os._exit(128 + signum)

    def restore(self):
        for s, handler in self._previous.items():
            signal.signal(s, handler)


_WAITER = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ofe_jax_wait")


def _wait(fn):
    """fn() in a helper thread while the main thread waits in short sleeps: Python runs signal
    handlers only in the main thread between bytecodes, never inside a blocking call into XLA
    (a compile, or waiting for the device), so the waiting happens here instead."""
    future = _WAITER.submit(fn)
    while True:
        try:
            return future.result(timeout=0.05)
        except concurrent.futures.TimeoutError:
            continue


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
    """Runs calls until the end (0), a non-finite value (1) or a stop signal (128 + signum),
    logging at every log boundary. Every decision is the same in every process of a multi-host
    run: the metrics are gathered and a signal received by one process stops them all."""
    config, total = trainer.config, trainer.plan.total_steps
    names = _members(trainer)
    step, began, tick = start, time.time(), time.time()
    logged = start // trainer.plan.steps_per_chunk * trainer.plan.steps_per_chunk  # last row
    stop.last_checkpoint = checkpoints.latest_step()
    while step < total:
        kind, length = trainer.next_call(carry)
        compiled_before, call_tick = trainer.compile_s, time.perf_counter()
        carry = _wait(lambda: jax.block_until_ready(trainer.call(carry, (kind, length))))
        trainer.pacing.observe(*trainer.last_call, time.perf_counter() - call_tick
                               - (trainer.compile_s - compiled_before))
        signum = multihost.any_signal(stop.signum)
        previous, step = step, int(carry.step)
        at_log = step != previous and (step % trainer.plan.steps_per_chunk == 0
                                       or step >= total)
        if kind == "pretrain" and not signum:
            continue
        metrics = loop.summary(multihost.to_host(carry.log))  # the interval so far
        bad = _nonfinite(metrics, names)
        if bad:
            _wait(checkpoints.wait)
            where = f"at step {bad[1]}" if bad[1] >= 0 else f"in the call ending at step {step}"
            logger.message(f"error: non-finite loss or parameter in {bad[0]} {where}; "
                           f"stopped, the last good checkpoint "
                           f"(step {checkpoints.latest_step()}) is untouched")
            return 1
        if at_log:
            eval_return = None
            if schedule.evaluates(config, logged, step, total):
                eval_return = np.asarray(multihost.to_host(
                    _wait(lambda: jax.block_until_ready(trainer.eval_return(carry)))))
            now = time.time()
            logger.write(step, metrics, eval_return, (step - logged) / (now - tick), now - began)
            saving = schedule.saves(config, logged, step, total)
            logged, tick = step, time.time()
        else:
            saving = False
        if saving or signum:
            _wait(checkpoints.wait)  # the previous save (its failure is reported here)
            stop.last_checkpoint = checkpoints.latest_step()
            _save(trainer, checkpoints, step, carry)
        if signum:
            _wait(checkpoints.wait)
            logger.message(f"interrupted: checkpoint saved at step {step} "
                           f"({STOP_SIGNALS[signum]}); run the same command to resume")
            return 128 + signum
    _wait(checkpoints.wait)
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
            workdir_lib.check_workdir(workdir, config)
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
        if lock is not None:  # the run goes ahead: a refused one changes no file
            lock.record_holder()
            workdir_lib.record_config(workdir, config)
        logger = RunLogger(workdir, trainer.member_seeds(), trainer.plan.total_steps, start,
                           enabled=main_process, points=trainer.member_points())
        try:
            if start:
                logger.message(f"resumed from the checkpoint at step {start}")
            note = replay.uniform.write_note(config.replay.obs_dtype, trainer.platform)
            if note:
                logger.message(note)
            code = _chunks(trainer, carry, start, checkpoints, logger, stop)
        finally:
            logger.close()
    finally:
        checkpoints.close()
    if code == 0 and main_process:
        from ofe_jax.analysis import figures  # matplotlib, scipy: only at the end

        figures.learning_curve(workdir)
    return code
