"""When the host loop runs each compiled program, as pure functions of the env step: shared
by the loop itself (run.py) and the plan (ofe_jax.plan), which counts how often a whole run
executes each program without running it."""

from __future__ import annotations

import ml_collections


def crosses(previous: int, step: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (previous, step]."""
    return step // every > previous // every


def evaluates(config: ml_collections.ConfigDict, previous: int, step: int, total: int) -> bool:
    """Evaluate after the chunk (previous, step]: every eval_every steps and at the end."""
    return crosses(previous, step, config.eval_every) or step >= total


def saves(config: ml_collections.ConfigDict, previous: int, step: int, total: int) -> bool:
    """Checkpoint after the chunk (previous, step]: every checkpoint_every steps, at the end."""
    return crosses(previous, step, config.checkpoint_every) or step >= total


def chunk_ends(plan) -> list[int]:
    """The env step at the end of every chunk of a run from step 0."""
    return [plan.steps_per_chunk * (i + 1) for i in range(plan.num_chunks)]


def program_runs(config: ml_collections.ConfigDict, plan) -> dict[str, int]:
    """How many times a run from step 0 to the end executes each of the Trainer's programs."""
    ends, total = chunk_ends(plan), plan.total_steps
    previous = [0] + ends[:-1]
    return {"init": 1, "run_chunk": len(ends),
            "eval_return": sum(evaluates(config, p, s, total) for p, s in zip(previous, ends)),
            "policy": sum(saves(config, p, s, total) for p, s in zip(previous, ends))}
