"""Orbax checkpoints of the whole training carry (agents, optimisers, replay, envs, keys,
counters). Orbax writes each step into a temporary directory and renames it when complete, so a
checkpoint is either whole or absent; only the last `keep` are kept."""

import os

import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
    """A checkpoint exists but cannot be read back into this run's carry."""


class Checkpointer:
    def __init__(self, directory: str, keep: int):
        self.directory = os.path.abspath(directory)
        self._manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, step: int, carry) -> None:
        self._manager.save(step, args=ocp.args.StandardSave(carry), force=True)
        self._manager.wait_until_finished()

    def restore(self, abstract_carry, step: int | None = None):
        step = self.latest_step() if step is None else step
        try:
            return self._manager.restore(step, args=ocp.args.StandardRestore(abstract_carry))
        except Exception as e:  # orbax raises many types for truncated/garbled files
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"checkpoint {os.path.join(self.directory, str(step))} is "
                                  f"unreadable or does not match this config: {first}") from e

    def close(self) -> None:
        self._manager.close()
