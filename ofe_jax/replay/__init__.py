"""Replay buffers behind one protocol, as pure functions over a state pytree:

    buffer = replay.make(config.replay)          # Replay: uniform or prioritised, hyperparameters bound
    state = buffer.init(capacity, example)       # example: ONE item, no batch axis
    state = buffer.add(state, items)             # items: leading [n] axis
    s = buffer.sample(state, key, batch_size, progress)   # Sample(batch, weight [B], info)
    state = buffer.update(state, s.info, td_abs) # new priorities; a no-op for uniform replay

`progress` is the fraction of the run done (prioritised replay anneals its importance-sampling
exponent with it). Whoever holds a `Replay` never asks which kind it is: uniform replay returns
weights of one and ignores `update`. Everything is jit-, vmap- (one buffer per seed) and
scan-able. The module-level `init / add / sample / update` are the uniform buffer's
(`replay.uniform`); `replay.prioritized` is the sum-tree buffer.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

from ofe_jax.replay import prioritized, uniform
from ofe_jax.replay.uniform import (ReplayState, Sample, add, bytes_per_item, init, sample,
                                    update)

__all__ = ["Replay", "make", "Sample", "ReplayState", "init", "add", "sample", "update",
           "bytes_per_item", "uniform", "prioritized"]


@dataclasses.dataclass(frozen=True)
class Replay:
    """A replay buffer kind with its hyperparameters bound (see the module docstring)."""

    init: Callable[[int, Any], Any]
    add: Callable[[Any, Any], Any]
    sample: Callable[..., Sample]
    update: Callable[[Any, Any, Any], Any]


def make(config) -> Replay:
    """From a `replay` config section: obs_dtype, prioritized, priority_alpha/eps/beta0."""
    obs_dtype = config.obs_dtype
    if not config.prioritized:
        return Replay(lambda capacity, example: uniform.init(capacity, example, obs_dtype),
                      uniform.add, uniform.sample, uniform.update)

    alpha, eps, beta0 = (float(config.priority_alpha), float(config.priority_eps),
                         float(config.priority_beta0))

    def sample_prioritized(state, key, batch_size: int, progress=1.0) -> Sample:
        return prioritized.sample(state, key, batch_size,
                                  prioritized.beta_schedule(progress, beta0))

    return Replay(lambda capacity, example: prioritized.init(capacity, example, obs_dtype),
                  prioritized.add, sample_prioritized,
                  lambda state, info, td_abs: prioritized.update(state, info, td_abs, alpha, eps))
