"""Orbax checkpoints: per step, the whole training carry (agents, optimisers, replay, envs,
keys, counters: exact resume) and beside it the policy artifact (every seed's deterministic
policy alone + a JSON of what rebuilds it), so that scoring a run never reads the replay.

    workdir/checkpoints/<step>/carry/         the Carry (restore_carry)
    workdir/checkpoints/<step>/policy/        agents.Policy of every seed [S, ...]
    workdir/checkpoints/<step>/policy_meta/   agent config, env name, sizes, bounds, seeds

Orbax writes each step into a temporary directory and renames it when complete, so a checkpoint
is either whole or absent; only the last `keep` are kept."""

import os

import orbax.checkpoint as ocp

from ofe_jax.errors import CheckpointError

ITEMS = ("carry", "policy", "policy_meta")


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class Checkpointer:
    def __init__(self, directory: str, keep: int = 3, create: bool = True):
        self.directory = os.path.abspath(directory)
        self._manager = ocp.CheckpointManager(
            self.directory, item_names=ITEMS,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=create))

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, step: int, carry, policy, policy_meta: dict) -> None:
        self._manager.save(step, args=ocp.args.Composite(
            carry=ocp.args.StandardSave(carry), policy=ocp.args.StandardSave(policy),
            policy_meta=ocp.args.JsonSave(policy_meta)), force=True)
        self._manager.wait_until_finished()

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
        self._manager.close()
