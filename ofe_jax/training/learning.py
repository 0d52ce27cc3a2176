"""Learning: K gradient updates per seed, each on a fresh minibatch from that seed's replay.

    agent_state, buffer, metrics = learn(parts, agent_state, buffer, keys, updates, progress)
    agent_state = pretrain(parts, agent_state, buffer, keys)     # OFENet-only updates

Batched over the seeds of this device (leading [S] axes; keys [S, 2]). `updates` (RL updates
done so far) is one scalar shared by all seeds and passed to the agents as their schedule
counter, so TD3's delayed actor stays a real `lax.cond` under the seeds vmap. The replay is used
only through its protocol: sample -> (batch, weight, info), update(info, |TD error|).

With OFENet and `agent.ofenet.separate_batch` (default, as the OFENet authors' code), each
update's key splits into (rl_key, ofenet_key): the RL step's minibatch is drawn with rl_key, the
auxiliary step's own minibatch (uniform in spirit: from the same buffer) with ofenet_key.
Otherwise both steps use the minibatch drawn with the update's key.
"""

import functools

import jax
import jax.numpy as jnp

from ofe_jax.training import normalizer
from ofe_jax.training.plan import Parts


def _learn_seed(parts: Parts, state, buffer, key, updates, progress, obs_stats):
    batch_size, agent, buffer_ops = parts.plan.local_batch, parts.agent, parts.replay
    separate = agent.encoder.ofenet is not None and parts.config.agent.ofenet.separate_batch

    def update(carry, k):
        state, buffer, i = carry
        ofenet_batch = None
        if separate:
            k, ofenet_key = jax.random.split(k)
            ofenet_batch = normalizer.apply_to_batch(
                obs_stats, buffer_ops.sample(buffer, ofenet_key, batch_size, progress).batch)
        s = buffer_ops.sample(buffer, k, batch_size, progress)
        state, metrics = agent.update(state, normalizer.apply_to_batch(obs_stats, s.batch),
                                      weight=s.weight, ofenet_batch=ofenet_batch,
                                      step=updates + i)
        buffer = buffer_ops.update(buffer, s.info, metrics.pop("td_abs"))
        return (state, buffer, i + 1), metrics

    keys = jax.random.split(key, parts.plan.updates_per_iteration)
    (state, buffer, _), metrics = jax.lax.scan(update, (state, buffer, jnp.int32(0)), keys)
    metrics = jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)
    if parts.axis is not None:  # losses of the local batches -> of the global batch
        metrics = jax.lax.pmean(metrics, parts.axis)
    return state, buffer, metrics


def learn(parts: Parts, agent_state, buffer, keys: jax.Array, updates: jax.Array,
          progress: jax.Array, obs_stats=None):
    """K = updates_per_iteration updates of every seed; metrics are means over the K ([S]).
    obs_stats [S] (or None): the observation statistics that normalise the sampled batches."""
    return jax.vmap(functools.partial(_learn_seed, parts), in_axes=(0, 0, 0, None, None, 0))(
        agent_state, buffer, keys, updates, progress, obs_stats)


def pretrain(parts: Parts, agent_state, buffer, keys: jax.Array, obs_stats=None):
    """`pretrain_steps` OFENet-only updates of every seed (OFENet paper's schedule)."""
    def seed(state, buffer, key, stats):
        def update(state, k):
            batch = parts.replay.sample(buffer, k, parts.plan.local_batch).batch
            return parts.agent.pretrain_update(state, normalizer.apply_to_batch(stats, batch))
        return jax.lax.scan(update, state, jax.random.split(key, parts.plan.pretrain_steps))[0]

    return jax.vmap(seed)(agent_state, buffer, keys, obs_stats)
