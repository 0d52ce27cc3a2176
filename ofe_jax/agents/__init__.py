"""SAC, TD3 and CrossQ as pure, jit- and vmap-able functions over a state pytree per algorithm.

    agent = agents.make(agents.default_config("sac"), observation_size, action_size)
    state = agent.init(key)                          # SACState
    state, metrics = agent.update(state, batch)      # batch: agents.Transition
"""

import ml_collections

from ofe_jax.agents import crossq, sac, td3
from ofe_jax.agents.common import (Agent, AgentState, OFENetState, Policy, Transition,
                                   hparams_of, make_transition, polyak)
from ofe_jax.agents.crossq import CrossQState
from ofe_jax.agents.sac import SACState
from ofe_jax.agents.td3 import TD3State
from ofe_jax.config.agent import default_config
from ofe_jax.config.choices import ALGORITHMS
from ofe_jax.config.validation import validate_agent as validate

__all__ = ["Agent", "AgentState", "SACState", "TD3State", "CrossQState", "OFENetState",
           "Policy", "Transition", "make_transition", "polyak", "hparams_of", "ALGORITHMS",
           "default_config", "validate", "make", "build"]

_MODULES = {"sac": sac, "td3": td3, "crossq": crossq}
assert tuple(_MODULES) == ALGORITHMS, "agents and config.choices disagree"


def build(config: ml_collections.ConfigDict, observation_size: int, action_size: int,
          axis_name: str | None = None, contact_force_size: int = 0) -> Agent:
    """Builds the agent named by `config.name` from an already validated config."""
    return _MODULES[config.name].make(config, observation_size, action_size, axis_name,
                                      contact_force_size)


def make(config: ml_collections.ConfigDict, observation_size: int, action_size: int,
         axis_name: str | None = None, contact_force_size: int = 0) -> Agent:
    """Validates the config and sizes, then builds the agent named by `config.name`.

    axis_name: for data parallelism inside `shard_map`/`pmap`: the mesh axis over which the
    batch is split; gradients and OFENet's BatchNorm statistics are averaged over it.
    contact_force_size: how many trailing observation entries are contact forces
    (`env.contact_force_size`): OFENet's target_dim "auto" leaves them out."""
    validate(config, observation_size, action_size)
    return build(config, observation_size, action_size, axis_name, contact_force_size)
