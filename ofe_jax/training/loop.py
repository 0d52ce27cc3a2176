"""The compiled programs of the training loop, over a `Carry` whose per-member parts have a
leading axis (one member per seed, or per (grid point, seed) pair with a hyperparameter grid).

    carry = init_carry(parts, keys)                         # agents, replay, envs, keys
    carry = collect_chunk(parts, carry, length)             # random phase: `length` iterations
    carry = pretrain_call(parts, carry)                     # OFENet-only updates
    carry = learn_chunk(parts, carry, length)               # learning phase
    returns = eval_return(parts, carry)                     # [members] deterministic return

One iteration collects one env step of every env (collection.py) and, in the learning phase,
does K = num_envs * updates_per_step updates per member (learning.py). The phase is the host's
choice (schedule.py), not a branch inside the program: on XLA:GPU every `conditional` and
every `while` predicate is a round trip to the host, so the per-step path has none of its own.
TD3's and CrossQ's delayed actor is static too: the scan runs over groups of iterations whose
updates cover whole delay cycles (learning.py). Each chunk adds its per-member sums to
carry.log, which the host reads at every log boundary (`summary`).
"""

import functools

import flax.struct
import jax
import jax.numpy as jnp

from ofe_jax import agents, envs
from ofe_jax.training import collection, learning, mesh, normalizer, plan as plan_lib
from ofe_jax.training.plan import Parts

EVAL_SCOPE = "eval_episode"  # the evaluation's episode loop (aot/physics.py finds it by name)


@flax.struct.dataclass
class Carry:
    agent: agents.AgentState  # [M, ...]
    buffer: object  # [M, capacity, ...] replay state (the protocol's, any kind)
    env: envs.VecEnvState  # [M, N, ...]
    obs_stats: normalizer.RunningStats | None  # [M, obs] running statistics, or None (off)
    key: jax.Array  # [M, 2] training keys (actions, sampling)
    eval_key: jax.Array  # [M, 2] evaluation keys, folded with the step; never for training
    step: jax.Array  # [] int32 env steps per member so far (all envs), shared by all members
    updates: jax.Array  # [] int32 RL updates per member so far, shared by all members
    pretrained: jax.Array  # [] int32 OFENet-only updates done (the pretraining's progress)
    log: dict  # [M] sums since the last log boundary (`accumulate`): saved with the carry, so
    #            a run resumed between two log boundaries logs the same row


def _example_transition(parts: Parts) -> agents.Transition:
    obs = jnp.zeros((parts.plan.observation_size,), jnp.float32)
    return agents.Transition(obs, jnp.zeros((parts.plan.action_size,), jnp.float32),
                             jnp.zeros(()), jnp.zeros(()), obs)


def init_carry(parts: Parts, keys: jax.Array, hparams: dict | None = None) -> Carry:
    """The initial carry of the members whose keys [M, 2] are given; hparams: {field: [M]}
    per-member hyperparameters (a grid), None = the config's."""
    venv = envs.VecEnv(parts.env, parts.plan.local_envs)

    def member(key, hp):
        agent_key, env_key, train_key, eval_key = jax.random.split(key, 4)
        buffer = parts.replay.init(parts.plan.local_capacity, _example_transition(parts))
        env = venv.reset(mesh.per_device_key(env_key, parts.axis))
        stats = (normalizer.init(parts.plan.observation_size)
                 if parts.config.env.normalize_obs else None)
        return parts.agent.init(agent_key, hp), buffer, env, stats, train_key, eval_key

    agent, buffer, env, stats, key, eval_key = jax.vmap(member)(keys, hparams)
    zero = jnp.zeros((), jnp.int32)
    return Carry(agent, buffer, env, stats, key, eval_key, zero, zero, zero,
                 empty_log(parts, keys.shape[0]))


def empty_log(parts: Parts, members: int) -> dict:
    """The log sums of no iteration ([members] each), with every metric the updates report."""
    zeros_f = jnp.zeros((members,), jnp.float32)
    zeros_i = jnp.zeros((members,), jnp.int32)
    return {"metric_sums": {k: zeros_f for k in parts.metric_names},
            "learned": zeros_i, "return_sum": zeros_f, "length_sum": zeros_f,
            "episodes": zeros_i, "first_bad": zeros_i + NEVER,
            "params_finite": jnp.ones((members,), bool)}


NEVER = jnp.iinfo(jnp.int32).max  # first_bad of a log interval without a non-finite loss


def _iteration_keys(parts: Parts, carry: Carry):
    """(carried key, action keys, pretrain keys, learn keys), each [M, 2]: the same four-way
    split in every iteration of either phase (the pretraining's share is used once)."""
    split = jax.vmap(lambda k: jax.random.split(k, 4))(carry.key)  # [M, 4, 2]
    local = lambda i: jax.vmap(lambda k: mesh.per_device_key(k, parts.axis))(split[:, i])
    return split[:, 0], local(1), local(2), local(3)


def _collect(parts: Parts, carry: Carry, action_key, random: bool):
    buffer, env, stats, obs_stats = collection.collect(
        parts, carry.agent, carry.buffer, carry.env, action_key, random, carry.obs_stats)
    step = carry.step + parts.plan.num_envs
    return carry.replace(buffer=buffer, env=env, obs_stats=obs_stats, step=step), stats


def _random_iteration(parts: Parts, carry: Carry, _):
    key, action_key, _, _ = _iteration_keys(parts, carry)
    carry, stats = _collect(parts, carry.replace(key=key), action_key, random=True)
    return carry, {"step": carry.step, **stats}


def _learning_iteration(parts: Parts, carry: Carry, first_update: int | None):
    """One learning iteration; first_update: the static position of its first update in the
    delay cycle of TD3/CrossQ (learning.py)."""
    key, action_key, _, learn_key = _iteration_keys(parts, carry)
    carry, stats = _collect(parts, carry.replace(key=key), action_key, random=False)
    progress = (carry.step - parts.plan.num_envs).astype(jnp.float32) / parts.config.total_steps

    def learn(operands):
        agent_state, buffer = operands
        return learning.learn(parts, agent_state, buffer, learn_key, carry.updates, progress,
                              carry.obs_stats, first_update)

    operands = (carry.agent, carry.buffer)
    if parts.plan.fence_learning:
        # On XLA:CPU, with the replay write and the sampling in one fusion region, the write
        # is fused into the sample's gather and the buffer fields copied whole every
        # iteration (measured: Hopper SAC at 1M capacity, 1 seed, 3x slower learning
        # iterations). A conditional is a fusion boundary; its predicate is always true here.
        metrics_shape = jax.eval_shape(learn, operands)[2]
        agent_state, buffer, metrics = jax.lax.cond(
            carry.step > 0, learn, lambda ops: (*ops, jax.tree.map(
                lambda s: jnp.zeros(s.shape, s.dtype), metrics_shape)), operands)
    else:
        agent_state, buffer, metrics = learn(operands)
    carry = carry.replace(agent=agent_state, buffer=buffer,
                          updates=carry.updates + parts.plan.updates_per_iteration)
    return carry, {"step": carry.step, "metrics": metrics, **stats}


def _group(parts: Parts, carry: Carry, _):
    """`plan.iterations_per_group` learning iterations, unrolled: whole delay cycles (without
    a static schedule, plan.static_delay False: one iteration, the delay a lax.cond)."""
    outs = []
    for i in range(parts.plan.iterations_per_group):
        first = i * parts.plan.updates_per_iteration if parts.plan.static_delay else None
        carry, out = _learning_iteration(parts, carry, first)
        outs.append(out)
    return carry, jax.tree.map(lambda *x: jnp.stack(x), *outs)


def collect_chunk(parts: Parts, carry: Carry, length: int) -> Carry:
    """`length` random-phase iterations (uniform actions, no updates), logged in carry.log."""
    log = _log_start(parts, carry)
    carry, out = jax.lax.scan(functools.partial(_random_iteration, parts), carry, None, length)
    return carry.replace(log=accumulate(log, out, carry.agent))


def learn_chunk(parts: Parts, carry: Carry, length: int) -> Carry:
    """`length` learning iterations (a multiple of plan.iterations_per_group)."""
    log = _log_start(parts, carry)
    groups = length // parts.plan.iterations_per_group
    carry, out = jax.lax.scan(functools.partial(_group, parts), carry, None, groups)
    out = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), out)  # [groups x G, ...]
    return carry.replace(log=accumulate(log, out, carry.agent))


def _log_start(parts: Parts, carry: Carry) -> dict:
    """carry.log, or the empty log where a log interval begins (the host has read the last)."""
    fresh = carry.step % parts.plan.steps_per_chunk == 0
    empty = empty_log(parts, carry.key.shape[0])
    return jax.tree.map(lambda e, x: jnp.where(fresh, e, x), empty, carry.log)


def pretrain_call(parts: Parts, carry: Carry) -> Carry:
    """plan.pretrain_call OFENet-only updates of every member (OFENet paper: after the random
    phase, before the RL updates). Its keys are the pretraining share of the next iteration's
    split (which that iteration leaves unused) folded with carry.pretrained: no key is used
    twice, and carry.key is unchanged."""
    _, _, pretrain_key, _ = _iteration_keys(parts, carry)
    agent = learning.pretrain(parts, carry.agent, carry.buffer, pretrain_key, carry.obs_stats,
                              parts.plan.pretrain_call, carry.pretrained)
    return carry.replace(agent=agent, pretrained=carry.pretrained + parts.plan.pretrain_call)


def accumulate(log: dict, out: dict, agent_state) -> dict:
    """log + a chunk's iterations (`out`, [I, M] each): metric sums and the iterations they
    cover, episode statistics, the first step with a non-finite loss, and whether the params
    are finite now."""
    metrics = out.get("metrics", {})
    bad = jnp.zeros(out["episodes"].shape, bool)  # [I, M]
    for v in metrics.values():
        bad = bad | ~jnp.isfinite(v)
    first_bad = jnp.min(jnp.where(bad, out["step"][:, None], NEVER), axis=0)
    params_finite = jax.vmap(lambda s: jnp.all(jnp.stack(
        [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(s)])))(agent_state)
    learned = out["episodes"].shape[0] if metrics else 0
    return {"metric_sums": {k: v + jnp.sum(metrics[k], axis=0) if k in metrics else v
                            for k, v in log["metric_sums"].items()},
            "learned": log["learned"] + learned,
            "return_sum": log["return_sum"] + jnp.sum(out["return_sum"], axis=0),
            "length_sum": log["length_sum"] + jnp.sum(out["length_sum"], axis=0),
            "episodes": log["episodes"] + jnp.sum(out["episodes"], axis=0),
            "first_bad": jnp.minimum(log["first_bad"], first_bad),
            "params_finite": params_finite}


def summary(log: dict) -> dict:
    """[M] per-member metrics of a log interval from its sums (host or device arrays): means
    over the learning iterations (NaN if none), episode statistics (NaN without an episode),
    the first step with a non-finite loss (-1 if none) and params_finite."""
    import numpy as np

    log = jax.tree.map(np.asarray, log)
    learned, episodes = log["learned"], log["episodes"]
    with np.errstate(invalid="ignore", divide="ignore"):
        metrics = {k: np.where(learned > 0, v / np.maximum(learned, 1), np.nan)
                   for k, v in log["metric_sums"].items()}
        per_episode = lambda x: np.where(episodes > 0, x / np.maximum(episodes, 1), np.nan)
        return {**metrics, "episode_return": per_episode(log["return_sum"]),
                "episode_length": per_episode(log["length_sum"]), "episodes": episodes,
                "nonfinite_step": np.where(log["first_bad"] == int(NEVER), -1,
                                           log["first_bad"]),
                "params_finite": log["params_finite"]}


def eval_return(parts: Parts, carry: Carry) -> jax.Array:
    """[M] mean return of eval_episodes deterministic episodes per member (parallel envs),
    observations normalised with the member's statistics. plan.eval_scan: a fixed-length
    masked scan of episode_length steps (no host round trip per step on accelerators; the
    same returns); else a while loop that stops when every episode has ended."""
    def member(agent_state, eval_key, stats):
        key = jax.random.fold_in(eval_key, carry.step)
        state = jax.vmap(parts.env.reset)(jax.random.split(key, parts.plan.eval_episodes))
        policy = parts.agent.policy(agent_state)

        def body(c):
            state, ret, alive = c
            action = parts.agent.policy_action(policy, normalizer.apply(stats, state.obs))
            state = jax.vmap(parts.env.step)(state, plan_lib.to_env_action(parts, action))
            ret = ret + jnp.where(alive, state.reward, 0.0)
            return state, ret, alive & ~(state.terminated | state.truncated)

        zeros = jnp.zeros((parts.plan.eval_episodes,), jnp.float32)
        start = (state, zeros, zeros == 0)
        with jax.named_scope(EVAL_SCOPE):
            if parts.plan.eval_scan:
                _, ret, _ = jax.lax.scan(lambda c, _: (body(c), None), start, None,
                                         parts.config.env.episode_length)[0]
            else:
                _, ret, _ = jax.lax.while_loop(lambda c: jnp.any(c[2]), body, start)
        return jnp.mean(ret)

    return jax.vmap(member)(carry.agent, carry.eval_key, carry.obs_stats)
