"""Small random batches, tiny agent configs and a compile-time jit shared by the agent tests."""

import jax
import jax.numpy as jnp

from ofe_jax import agents
from ofe_jax.jit_once import CPU_COMPILER_OPTIONS


def random_batch(key, batch_size: int, observation_size: int, action_size: int,
                 leading: tuple[int, ...] = ()) -> agents.Transition:
    obs_key, action_key, reward_key, next_key, done_key = jax.random.split(key, 5)
    shape = (*leading, batch_size)
    terminated = jax.random.bernoulli(done_key, 0.1, shape)
    return agents.make_transition(
        obs=jax.random.normal(obs_key, (*shape, observation_size)),
        action=jax.random.uniform(action_key, (*shape, action_size), minval=-1, maxval=1),
        reward=jax.random.normal(reward_key, shape),
        terminated=terminated,
        next_obs=jax.random.normal(next_key, (*shape, observation_size)),
        gamma=0.99)


def tiny_config(name: str, ofenet: bool = False, kind: str = "mlp"):
    config = agents.default_config(name)
    config.network.kind = kind
    config.network.units = 16
    config.network.layers = 2
    config.ofenet.enabled = ofenet
    config.ofenet.total_units = 8
    config.ofenet.layers = 2
    return config


def fast_jit(fun, extra_options: dict | None = None, **kwargs):
    """jax.jit with XLA's backend optimisations off (ofe_jax/jit_once.py's CPU options, plus
    `extra_options`) on CPU; plain jax.jit elsewhere (the GPU suite runs these tests with XLA's
    defaults). The agent tests compile many small programs and run each a few times: so
    compiled, a tiny SAC update with OFENet compiles in 2.7 s instead of 4.5 s (2-core Xeon) and
    computes the same to float rounding. The training-loop, learning and probe tests keep XLA's
    defaults."""
    options = {**CPU_COMPILER_OPTIONS, **(extra_options or {})}
    return jax.jit(fun, compiler_options=options if jax.default_backend() == "cpu" else None,
                   **kwargs)
