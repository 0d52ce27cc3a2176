"""Learning: K gradient updates per seed, each on a fresh minibatch from that seed's replay.

    agent_state, buffer, metrics = learn(parts, agent_state, buffer, keys, updates, progress)
    agent_state = pretrain(parts, agent_state, buffer, keys)     # OFENet-only updates

Batched over the seeds of this device (leading [S] axes; keys [S, 2]). `updates` (RL updates
done so far) is one scalar shared by all seeds; TD3's and CrossQ's delayed actor is scheduled
statically (`first_update`, see `learn`). The replay is used
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


def _learn_seed(parts: Parts, state, buffer, key, updates, progress, obs_stats,
                first_update: int | None):
    batch_size, agent, buffer_ops = parts.plan.local_batch, parts.agent, parts.replay
    separate = agent.encoder.ofenet is not None and parts.config.agent.ofenet.separate_batch

    def update(carry, k, step):
        state, buffer = carry
        ofenet_batch = None
        if separate:
            k, ofenet_key = jax.random.split(k)
            ofenet_batch = normalizer.apply_to_batch(
                obs_stats, buffer_ops.sample(buffer, ofenet_key, batch_size, progress).batch)
        s = buffer_ops.sample(buffer, k, batch_size, progress)
        state, metrics = agent.update(state, normalizer.apply_to_batch(obs_stats, s.batch),
                                      weight=s.weight, ofenet_batch=ofenet_batch, step=step)
        buffer = buffer_ops.update(buffer, s.info, metrics.pop("td_abs"))
        return (state, buffer), metrics

    k_updates, delay = parts.plan.updates_per_iteration, _policy_delay(parts)
    keys = jax.random.split(key, k_updates)
    if delay == 1 or first_update is None:  # one scan, the counter traced (a lax.cond)
        def body(carry, xs):
            return update(carry, xs[0], updates + xs[1])
        (state, buffer), metrics = jax.lax.scan(
            body, (state, buffer), (keys, jnp.arange(k_updates, dtype=jnp.int32)))
    elif first_update % delay == 0 and k_updates % delay == 0:  # scan over whole cycles
        def cycle(carry, cycle_keys):
            outs = []
            for j in range(delay):
                carry, m = update(carry, cycle_keys[j], j)
                outs.append(m)
            return carry, jax.tree.map(lambda *x: jnp.stack(x), *outs)
        (state, buffer), metrics = jax.lax.scan(
            cycle, (state, buffer), keys.reshape(k_updates // delay, delay, -1))
        metrics = jax.tree.map(lambda m: m.reshape((-1,) + m.shape[2:]), metrics)
    else:  # unrolled: each update's position in the cycle is static
        carry, outs = (state, buffer), []
        for k in range(k_updates):
            carry, m = update(carry, keys[k], (first_update + k) % delay)
            outs.append(m)
        (state, buffer), metrics = carry, jax.tree.map(lambda *x: jnp.stack(x), *outs)
    metrics = jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)
    if parts.axis is not None:  # losses of the local batches -> of the global batch
        metrics = jax.lax.pmean(metrics, parts.axis)
    return state, buffer, metrics


def _policy_delay(parts: Parts) -> int:
    return int(parts.config.agent.get("policy_delay", 1))


def learn(parts: Parts, agent_state, buffer, keys: jax.Array, updates: jax.Array,
          progress: jax.Array, obs_stats=None, first_update: int | None = None):
    """K = updates_per_iteration updates of every seed; metrics are means over the K ([S]).
    obs_stats [S] (or None): the observation statistics that normalise the sampled batches.
    first_update: the static position of the first of the K updates in the delay cycle of
    TD3/CrossQ (the caller's iterations cover whole cycles, starting at a multiple of the delay:
    `plan.iterations_per_group`), so the delayed actor step is a Python branch, not a
    `lax.cond`: the same schedule as `updates % policy_delay == 0`, with no host round trip.
    None: the traced counter `updates` decides (a lax.cond under the seeds vmap)."""
    return jax.vmap(functools.partial(_learn_seed, parts, first_update=first_update),
                    in_axes=(0, 0, 0, None, None, 0))(
        agent_state, buffer, keys, updates, progress, obs_stats)


def pretrain(parts: Parts, agent_state, buffer, keys: jax.Array, obs_stats=None,
             updates: int | None = None, done: jax.Array | int = 0):
    """`updates` (default: all pretrain_steps) OFENet-only updates of every seed (OFENet
    paper's schedule). `done`: pretraining updates made by earlier calls; each call's keys
    are `keys` folded with it, so calls of one pretraining never share a key."""
    updates = parts.plan.pretrain_steps if updates is None else updates

    def seed(state, buffer, key, stats):
        key = jax.random.fold_in(key, done)

        def update(state, k):
            batch = parts.replay.sample(buffer, k, parts.plan.local_batch).batch
            return parts.agent.pretrain_update(state, normalizer.apply_to_batch(stats, batch))
        return jax.lax.scan(update, state, jax.random.split(key, updates))[0]

    return jax.vmap(seed)(agent_state, buffer, keys, obs_stats)
