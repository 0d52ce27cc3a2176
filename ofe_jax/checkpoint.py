"""Orbax checkpoints: per step, the whole training carry (agents, optimisers, replay, envs,
keys, counters: exact resume) and beside it the policy artifact (every seed's deterministic
policy alone + a JSON of what rebuilds it), so that scoring a run never reads the replay.

    workdir/checkpoints/<step>/carry/         the Carry (restore_carry)
    workdir/checkpoints/<step>/policy/        agents.Policy of every seed [S, ...]
    workdir/checkpoints/<step>/policy_meta/   agent config, env name, sizes, bounds, seeds

Orbax writes each step into a temporary directory and renames it when complete, so a checkpoint
is either whole or absent (a process killed mid-save leaves only a temporary directory, which is
never read); only the last `keep` are kept.

Saving is asynchronous by default (orbax's async checkpointing): `save` returns once the arrays
are handed to a background writer and training goes on while they are written; the next `save`
and `wait` (called before the program exits) wait for it. A write that fails (disk full, the
directory removed or read-only) surfaces at that wait as a CheckpointError naming the step's
path and the cause; the previous checkpoint is left whole. On a CPU the writer reads the
carry's own buffers, so the next chunk cannot update them in place while they are written
(JAX copies the donated carry instead): peak memory is about twice the carry during a save."""

import os

import orbax.checkpoint as ocp

from ofe_jax.errors import CheckpointError

ITEMS = ("carry", "policy", "policy_meta")


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _cause(e: BaseException) -> str:
    """The OS error behind an exception (orbax wraps them), e.g. "No space left on device"."""
    seen, current = set(), e
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror + (f": {current.filename}" if current.filename else "")
        current = current.__cause__ or current.__context__
    return _first_line(e)


class Checkpointer:
    def __init__(self, directory: str, keep: int = 3, create: bool = True,
                 asynchronous: bool = True):
        """create=True: the run's writer (removes temporary directories of interrupted saves);
        create=False: a reader (evaluate, load_policy) that changes nothing on disk."""
        self.directory = os.path.abspath(directory)
        self._pending: int | None = None  # step of a save that may still be writing
        try:
            self._manager = ocp.CheckpointManager(
                self.directory, item_names=ITEMS,
                options=ocp.CheckpointManagerOptions(
                    max_to_keep=keep, create=create, read_only=not create,
                    cleanup_tmp_directories=create, enable_async_checkpointing=asynchronous))
        except OSError as e:
            raise CheckpointError(f"cannot use the checkpoint directory {self.directory}: "
                                  f"{e.strerror or e}") from e

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def _failed(self, step: int | None, e: BaseException) -> CheckpointError:
        path = os.path.join(self.directory, str(step)) if step is not None else self.directory
        return CheckpointError(f"cannot write checkpoint {path}: {_cause(e)}")

    def save(self, step: int, carry, policy, policy_meta: dict) -> None:
        """Starts writing checkpoint `step` (and waits for the previous one first)."""
        self.wait()
        try:
            self._manager.save(step, args=ocp.args.Composite(
                carry=ocp.args.StandardSave(carry), policy=ocp.args.StandardSave(policy),
                policy_meta=ocp.args.JsonSave(policy_meta)), force=True)
        except Exception as e:  # noqa: BLE001 - orbax wraps OS errors in many types
            raise self._failed(step, e) from e
        self._pending = step

    def wait(self) -> None:
        """Waits until the last save is on disk; CheckpointError if it failed."""
        step, self._pending = self._pending, None
        try:
            self._manager.wait_until_finished()
        except Exception as e:  # noqa: BLE001
            raise self._failed(step, e) from e

    def _restore(self, step: int | None, **items):
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        try:
            return self._manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as e:  # orbax raises many types for truncated/garbled files
            raise CheckpointError(f"checkpoint {os.path.join(self.directory, str(step))} is "
                                  f"unreadable or does not match this config: "
                                  f"{_first_line(e)}") from e

    def restore_carry(self, abstract_carry, step: int | None = None):
        return self._restore(step, carry=ocp.args.StandardRestore(abstract_carry)).carry

    def restore_policy_meta(self, step: int | None = None) -> dict:
        return self._restore(step, policy_meta=ocp.args.JsonRestore()).policy_meta

    def restore_policy(self, abstract_policy, step: int | None = None):
        return self._restore(step, policy=ocp.args.StandardRestore(abstract_policy)).policy

    def close(self) -> None:
        """Waits for a pending save (errors are raised by `wait`, call it first) and closes."""
        try:
            self._manager.close()
        except Exception:  # noqa: BLE001 - a failed save was reported by wait()
            pass
