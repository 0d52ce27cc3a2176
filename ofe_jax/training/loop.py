"""The compiled training loop over a `Carry` whose per-member parts have a leading axis.

    trainer = Trainer(config)
    carry = trainer.init(trainer.seed_keys())          # agents, replay buffers, envs, keys
    carry, metrics = trainer.run_chunk(carry)          # one jitted, donated call
    returns = trainer.eval_return(carry)               # [members] deterministic eval return

The leading axis holds the run's members: one per seed, or one per (grid point, seed) pair
with a hyperparameter grid (config/grid.py; each member's hyperparameters live in its agent
state). One chunk is a `lax.scan` over `log_every / num_envs` iterations; each iteration collects
one env step of every env (collection.py: uniform-random actions while step < random_steps)
and then, once step >= random_steps, does K = num_envs * updates_per_step updates per member
(learning.py). The first learning iteration first runs `ofenet_pretrain_steps` OFENet-only
updates (OFENet paper's schedule). The env-step and update counters are scalars shared by all
members, so the phase switches are real `lax.cond` branches that cost nothing when not taken.
"""

import functools

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from ofe_jax import agents, envs
from ofe_jax.jit_once import jit_once
from ofe_jax.training import collection, learning, mesh, normalizer, plan as plan_lib
from ofe_jax.training.plan import Parts


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
    return Carry(agent, buffer, env, stats, key, eval_key, zero, zero)


def _iteration(parts: Parts, carry: Carry, _):
    p = parts.plan
    split = jax.vmap(lambda k: jax.random.split(k, 4))(carry.key)  # [M, 4, 2]
    key = split[:, 0]  # the carried key stays the same on every data device
    action_key, pretrain_key, learn_key = (
        jax.vmap(lambda k: mesh.per_device_key(k, parts.axis))(split[:, i]) for i in (1, 2, 3))
    t = carry.step
    buffer, env, stats, obs_stats = collection.collect(parts, carry.agent, carry.buffer,
                                                       carry.env, action_key, t, carry.obs_stats)
    is_learning = t >= p.random_steps
    agent_state = carry.agent
    if p.pretrain_steps > 0:
        agent_state = jax.lax.cond(
            is_learning & (t < p.random_steps + p.num_envs),
            lambda s: learning.pretrain(parts, s, buffer, pretrain_key, obs_stats),
            lambda s: s, agent_state)
    progress = t.astype(jnp.float32) / parts.config.total_steps

    def learn(s, b):
        return learning.learn(parts, s, b, learn_key, carry.updates, progress, obs_stats)

    metric_shapes = jax.eval_shape(learn, agent_state, buffer)[2]
    agent_state, buffer, metrics = jax.lax.cond(
        is_learning, learn, lambda s, b: (s, b, jax.tree.map(
            lambda m: jnp.zeros(m.shape, m.dtype), metric_shapes)), agent_state, buffer)
    updates = carry.updates + jnp.where(is_learning, p.updates_per_iteration, 0)
    carry = Carry(agent_state, buffer, env, obs_stats, key, carry.eval_key, t + p.num_envs,
                  updates)
    return carry, {"learning": is_learning, "step": t + p.num_envs, "metrics": metrics,
                   **stats}


def _summary(out: dict, agent_state) -> dict:
    """[M] per-member chunk metrics: means over the learning iterations (NaN if none), episode
    statistics, the first step with a non-finite loss (-1 if none) and params_finite."""
    learned = jnp.sum(out["learning"])  # iterations with updates in this chunk
    weight = out["learning"].astype(jnp.float32)[:, None]  # [I, 1]
    metrics = {k: jnp.where(learned > 0,
                            jnp.sum(v * weight, axis=0) / jnp.maximum(learned, 1), jnp.nan)
               for k, v in out["metrics"].items()}
    episodes = jnp.sum(out["episodes"], axis=0)  # [M]
    per_episode = lambda x: jnp.where(episodes > 0,
                                      jnp.sum(x, axis=0) / jnp.maximum(episodes, 1), jnp.nan)
    bad = jnp.zeros(out["episodes"].shape, bool)  # [I, M]
    for v in out["metrics"].values():
        bad = bad | ~jnp.isfinite(v)
    never = jnp.iinfo(jnp.int32).max
    first_bad = jnp.min(jnp.where(bad, out["step"][:, None], never), axis=0)
    params_finite = jax.vmap(lambda s: jnp.all(jnp.stack(
        [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(s)])))(agent_state)
    return {**metrics, "episode_return": per_episode(out["return_sum"]),
            "episode_length": per_episode(out["length_sum"].astype(jnp.float32)),
            "episodes": episodes, "nonfinite_step": jnp.where(first_bad == never, -1, first_bad),
            "params_finite": params_finite}


def run_chunk(parts: Parts, carry: Carry) -> tuple[Carry, dict]:
    carry, out = jax.lax.scan(functools.partial(_iteration, parts), carry, None,
                              parts.plan.iterations_per_chunk)
    return carry, _summary(out, carry.agent)


def eval_return(parts: Parts, carry: Carry) -> jax.Array:
    """[M] mean return of eval_episodes deterministic episodes per member (parallel envs),
    observations normalised with the member's statistics."""
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
        with jax.named_scope("eval_episode"):  # the plan's trip rule finds the loop by it
            _, ret, _ = jax.lax.while_loop(lambda c: jnp.any(c[2]), body,
                                           (state, zeros, zeros == 0))
        return jnp.mean(ret)

    return jax.vmap(member)(carry.agent, carry.eval_key, carry.obs_stats)


class Trainer:
    """A config turned into jitted functions over a `Carry` (sharded over the mesh, if any).

    init(keys [M, 2]) -> Carry; run_chunk(carry) -> (carry, metrics [M]) (donated);
    eval_return(carry) -> [M]; policy(carry) -> {"agent": every member's `agents.Policy`,
    "obs_stats": their observation statistics or None}: what acting needs.
    """

    def __init__(self, config: ml_collections.ConfigDict):
        self.parts = plan_lib.build(config)  # validates the config, once
        self.config, self.plan = config, self.parts.plan
        self.agent, self.env = self.parts.agent, self.parts.env
        self.mesh = mesh.make_mesh(config)
        init = functools.partial(init_carry, self.parts)
        chunk = functools.partial(run_chunk, self.parts)
        evaluate = functools.partial(eval_return, self.parts)
        self.specs = None  # the carry's PartitionSpecs on the mesh
        if self.mesh is not None:
            self.specs = specs = mesh.carry_specs(jax.eval_shape(
                functools.partial(init_carry, self.parts.without_axis()), self.seed_keys(),
                self.member_hparams()))
            members = P(mesh.SEEDS)
            init = mesh.shard(self.mesh, init, (members, members), specs)
            chunk = mesh.shard(self.mesh, chunk, (specs,), (specs, members))
            evaluate = mesh.shard(self.mesh, evaluate, (specs,), members)
        self._init = jit_once(init)  # runs once: compiled for compile time (ofe_jax/jit_once.py)
        self.run_chunk = jax.jit(chunk, donate_argnums=0)
        self.eval_return = jax.jit(evaluate)
        self.policy = jax.jit(lambda carry: {"agent": jax.vmap(self.agent.policy)(carry.agent),
                                             "obs_stats": carry.obs_stats})

    def member_seeds(self) -> list[int]:
        return plan_lib.member_seeds(self.plan)

    def member_points(self) -> list[dict]:
        return plan_lib.member_points(self.plan)

    def seed_keys(self) -> np.ndarray:
        """[M, 2]: member m's key is that of its seed, so seed s of any run (and of any grid
        point) follows the same random stream as a single-seed run of seed s. A host (numpy)
        value, the same in every process of a multi-host run."""
        return np.stack([np.asarray(jax.random.PRNGKey(s)) for s in self.member_seeds()])

    def member_hparams(self) -> dict | None:
        """{field: [M] float32} of the gridded fields, or None without a grid."""
        points = self.member_points()
        if not points[0]:
            return None
        return {f: np.asarray([p[f] for p in points], np.float32) for f in points[0]}

    def init(self, keys) -> "Carry":
        return self._init(keys, self.member_hparams())

    def abstract_carry(self, sharding=None) -> Carry:
        """Shapes, dtypes and shardings of the carry, without allocating: the restore target.
        The shardings are this run's, whatever devices or processes wrote the checkpoint;
        `sharding`: one sharding for every leaf instead (one device, e.g. a plan's target)."""
        shapes = jax.eval_shape(self.init, self.seed_keys())
        if self.mesh is None or sharding is not None:
            device = sharding or jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
            shardings = jax.tree.map(lambda _: device, shapes)
        else:
            shardings = jax.tree.map(lambda spec: NamedSharding(self.mesh, spec), self.specs,
                                     is_leaf=lambda x: isinstance(x, P))
        return jax.tree.map(lambda x, sharding: jax.ShapeDtypeStruct(
            x.shape, x.dtype, sharding=sharding), shapes, shardings)

    def programs(self, platform: str, sharding) -> dict:
        """{name: (jitted function, abstract arguments)} of every program a run executes
        (names as in schedule.program_runs), with arguments on `sharding` (one device), built
        as for `platform` ("cpu", "cuda", ...): what ofe_jax.plan compiles."""
        carry = self.abstract_carry(sharding)
        keys = jax.ShapeDtypeStruct(self.seed_keys().shape, jnp.uint32, sharding=sharding)
        hparams = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype,
                                                              sharding=sharding),
                               self.member_hparams())
        return {"init": (self._init.for_platform(platform), (keys, hparams)),
                "run_chunk": (self.run_chunk, (carry,)),
                "eval_return": (self.eval_return, (carry,)),
                "policy": (self.policy, (carry,))}

    def to_env_action(self, action: jax.Array) -> jax.Array:
        return plan_lib.to_env_action(self.parts, action)
