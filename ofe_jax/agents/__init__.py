"""SAC and TD3 as pure, jit- and vmap-able functions over an `AgentState` pytree.

    agent = agents.make(agents.default_config("sac"), observation_size, action_size)
    state = agent.init(key)
    state, metrics = agent.update(state, batch)      # batch: agents.Transition
"""

import ml_collections

from ofe_jax.agents import sac, td3
from ofe_jax.agents.common import (Agent, AgentState, Transition, make_transition, polyak,
                                   seeds_axes)
from ofe_jax.agents.config import ALGORITHMS, default_config, validate

__all__ = ["Agent", "AgentState", "Transition", "make_transition", "polyak", "seeds_axes",
           "ALGORITHMS",
           "default_config", "validate", "make"]


def make(config: ml_collections.ConfigDict, observation_size: int, action_size: int,
         axis_name: str | None = None) -> Agent:
    """Builds the agent named by `config.name` after validating the config and sizes.

    axis_name: for data parallelism inside `shard_map`/`pmap`: the mesh axis over which the
    batch is split; gradients and OFENet's BatchNorm statistics are averaged over it."""
    validate(config, observation_size, action_size)
    module = {"sac": sac, "td3": td3}[config.name]
    return module.make(config, observation_size, action_size, axis_name)
