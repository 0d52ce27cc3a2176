"""Collection: act in every env of every seed, step the envs, store the transitions.

    buffer, env_state, stats, obs_stats = collect(parts, agent_state, buffer, env_state, keys,
                                                  random)

Batched over the seeds of this device: agent_state and buffer have a leading [S] axis, env_state
[S, N], keys [S, 2]; `random` (static: the host knows the phase) picks uniform-random actions
(the random phase) or the agents' exploratory actions. All (local) seeds' envs are stepped as ONE flat
VecEnv of S * N envs, not vmapped over seeds: its auto-reset `lax.cond(any(done))` then stays a
real branch (a seeds vmap would turn it into a select that resets every env at every step: a
second host callback per step on the C MuJoCo backend).
"""

import jax
import jax.numpy as jnp

from ofe_jax import agents, envs
from ofe_jax.training import mesh, normalizer
from ofe_jax.training.plan import Parts, to_env_action


def actions(parts: Parts, agent_state, obs: jax.Array, keys: jax.Array,
            random: bool) -> jax.Array:
    """[S, N, A] actions in [-1, 1]: uniform in the random phase (`random`, static), else the
    agents' exploratory actions (each actor at its own level when exploration.per_actor)."""
    p = parts.plan
    noise_scale = parts.noise_scale
    if noise_scale is not None:  # this data device's actors' levels
        noise_scale = mesh.local_slice(jnp.asarray(noise_scale), parts.axis, p.local_envs)

    def uniform():
        return jax.vmap(lambda k: jax.random.uniform(
            k, (p.local_envs, p.action_size), minval=-1.0, maxval=1.0))(keys)

    def policy():
        return jax.vmap(lambda s, o, k: parts.agent.act(s, o, k, noise_scale=noise_scale))(
            agent_state, obs, keys)

    return uniform() if random else policy()


def step_envs(parts: Parts, env_state: envs.VecEnvState,
              action: jax.Array) -> envs.VecEnvState:
    """[S, N] envs stepped as one flat VecEnv of S * N envs (see the module docstring)."""
    seeds, n = action.shape[:2]
    flat = jax.tree.map(lambda x: x.reshape((seeds * n,) + x.shape[2:]), env_state)
    stepped = parts.flat_envs.step(flat, action.reshape(seeds * n, -1))
    return jax.tree.map(lambda x: x.reshape((seeds, n) + x.shape[1:]), stepped)


def observe(parts: Parts, obs_stats, obs: jax.Array):
    """Observation statistics [S] updated with the observations [S, N, obs] about to be acted
    on (all data devices' envs), and those observations normalised; unchanged when off."""
    if obs_stats is None:
        return None, obs
    seen = obs if parts.axis is None else jax.lax.all_gather(obs, parts.axis, axis=1, tiled=True)
    obs_stats = jax.vmap(normalizer.update)(obs_stats, seen)
    return obs_stats, jax.vmap(normalizer.normalize)(obs_stats, obs)


def collect(parts: Parts, agent_state, buffer, env_state: envs.VecEnvState, keys: jax.Array,
            random: bool, obs_stats=None):
    """One env step of every env; returns (buffer, env_state, episode statistics [S] each:
    return_sum, length_sum, episodes, of the episodes that ended at this step, obs_stats).
    The discount stored is each seed's own gamma (agent_state.hparams["gamma"])."""
    obs_stats, agent_obs = observe(parts, obs_stats, env_state.obs)
    action = actions(parts, agent_state, agent_obs, keys, random)
    stepped = step_envs(parts, env_state, to_env_action(parts, action))
    gamma = agent_state.hparams["gamma"][:, None]  # [S, 1]
    transitions = agents.make_transition(env_state.obs, action, stepped.reward,
                                         stepped.terminated, stepped.final_obs,
                                         gamma)  # [S, N, ...], observations raw
    buffer = jax.vmap(parts.replay.add)(buffer, transitions)
    done = stepped.terminated | stepped.truncated  # [S, N]
    stats = {"return_sum": jnp.sum(stepped.completed_return, axis=1),
             "length_sum": jnp.sum(stepped.completed_length, axis=1),
             "episodes": jnp.sum(done, axis=1)}
    if parts.axis is not None:
        stats = jax.lax.psum(stats, parts.axis)
    return buffer, stepped, stats, obs_stats
