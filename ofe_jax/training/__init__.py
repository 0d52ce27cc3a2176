"""The training loop: one compiled program per chunk of env steps, many seeds at once.

    plan.py        Plan (sizes derived once) and Parts (env, agent, replay) from a config
    collection.py  collect: act, step the envs, store the transitions (all seeds)
    learning.py    learn: K updates per seed; pretrain: OFENet-only updates
    loop.py        Carry and the compiled programs: collect_chunk, pretrain_call, learn_chunk,
                   eval_return
    schedule.py    when the host runs each program, and how long its calls are (Pacing)
    trainer.py     the Trainer that jits (and shards) them
    mesh.py        the (seeds, data) device mesh, multi-host start-up
    run.py         the host loop: workdir, resume, logs, checkpoints, signals, NaN guard
"""

from ofe_jax.training.collection import collect
from ofe_jax.training.learning import learn, pretrain
from ofe_jax.training.loop import (Carry, collect_chunk, eval_return, init_carry, learn_chunk,
                                   pretrain_call)
from ofe_jax.training.trainer import Trainer
from ofe_jax.training.plan import Parts, Plan, build, exploration_ladder

__all__ = ["Carry", "Trainer", "Parts", "Plan", "build", "collect", "learn", "pretrain",
           "init_carry", "collect_chunk", "pretrain_call", "learn_chunk", "eval_return",
           "exploration_ladder", "train"]


def train(config, workdir: str) -> int:
    """Trains (or resumes) the run in `workdir` (see run.py); returns the exit code."""
    from ofe_jax.training import run

    return run.train(config, workdir)
