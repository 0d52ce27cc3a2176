"""The compiled training loop.

`Trainer(config)` turns a config into pure jitted functions over a `Carry` whose per-seed parts
have a leading seeds axis:

    carry = trainer.init(trainer.seed_keys())          # agents, replay buffers, envs, keys
    carry, metrics = trainer.run_chunk(carry)          # one jitted, donated call
    returns = trainer.evaluate(carry)                  # [seeds] deterministic eval return

One chunk is a `lax.scan` over `log_every / num_envs` iterations; each iteration acts in all
`num_envs` envs of every seed (uniform-random actions while step < random_steps), steps them,
adds the transitions to each seed's replay, and then (once step >= random_steps) does
K = round(num_envs * updates_per_step) gradient updates per seed. The first learning iteration
first runs `ofenet_pretrain_steps` OFENet-only updates (OFENet paper's schedule). The env-step
counter is shared by all seeds (not batched), so the phase switches are real `lax.cond`
branches that cost nothing when not taken; the per-seed work is `jax.vmap`-ed explicitly.
"""

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
from jax.sharding import PartitionSpec as P

from ofe_jax import agents, envs, parallel, prioritized, replay
from ofe_jax.config import validate


@flax.struct.dataclass
class Carry:
    agent: agents.AgentState  # [S, ...]
    buffer: replay.ReplayState | prioritized.PrioritizedState  # [S, capacity, ...]
    env: envs.VecEnvState  # [S, N, ...]
    key: jax.Array  # [S, 2] training keys (actions, sampling)
    eval_key: jax.Array  # [S, 2] evaluation keys, folded with the step; never used for training
    step: jax.Array  # [] int32 env steps per seed so far (all envs), shared by all seeds


def exploration_ladder(num_actors: int, low: float, high: float) -> jax.Array:
    """[num_actors] levels high * (low / high)^(i / (num_actors - 1)): actor 0 explores most
    (Ape-X: eps_i = eps^(1 + alpha * i / (N - 1))); one actor gets `high`."""
    if num_actors == 1:
        return jnp.full((1,), high, jnp.float32)
    fraction = jnp.arange(num_actors, dtype=jnp.float32) / (num_actors - 1)
    return (high * (low / high) ** fraction).astype(jnp.float32)


class Trainer:
    def __init__(self, config: ml_collections.ConfigDict):
        validate(config)
        self.config = config
        self.env = envs.make(config.env.name, backend=config.env.backend,
                             episode_length=config.env.episode_length)
        # Data parallelism: each of D devices runs num_envs / D envs, holds capacity / D of the
        # replay and samples batch_size / D per update; gradients are averaged over `data`.
        self.mesh = parallel.make_mesh(config)
        self.data_devices = config.parallel.data_devices
        self._axis = parallel.DATA if self.data_devices > 1 else None
        self.num_envs = config.env.num_envs
        self.local_envs = self.num_envs // self.data_devices
        self._local_batch = config.agent.batch_size // self.data_devices
        self.venv = envs.VecEnv(self.env, self.local_envs)
        # All (local) seeds' envs are stepped as ONE VecEnv, not vmapped over seeds: its
        # auto-reset lax.cond(any(done)) then stays a real branch (a seeds vmap would turn it
        # into a select that resets every env at every step: a second host callback per step).
        self.local_seeds = config.seeds // config.parallel.seeds_devices
        self._all_envs = envs.VecEnv(self.env, self.local_seeds * self.local_envs)
        self.agent = agents.make(config.agent, self.env.observation_size, self.env.action_size,
                                 axis_name=self._axis)
        self.iterations_per_chunk = config.log_every // self.num_envs
        self.steps_per_chunk = self.iterations_per_chunk * self.num_envs
        self.num_chunks = -(-config.total_steps // self.steps_per_chunk)
        self.updates_per_iteration = round(self.num_envs * config.updates_per_step)
        # Per-seed parts have a leading seeds axis; the env-step counter and the agents'
        # update counter are single scalars shared by all seeds (they advance in lockstep).
        self._agent_axes = agents.seeds_axes()
        self._carry_axes = Carry(agent=self._agent_axes, buffer=0, env=0, key=0, eval_key=0,
                                 step=None)
        self._replay = prioritized if config.replay.prioritized else replay
        self._noise_scale = None  # per-actor exploration levels [num_envs], or the paper's
        if config.exploration.per_actor:
            e, td3 = config.exploration, config.agent.name == "td3"
            self._noise_scale = exploration_ladder(
                self.num_envs, e.td3_sigma_min if td3 else e.sac_scale_min,
                e.td3_sigma_max if td3 else e.sac_scale_max)
        self._low = jnp.asarray(self.env.action_low)
        self._high = jnp.asarray(self.env.action_high)
        self._in_mesh = False  # true while tracing inside shard_map (collectives allowed)
        init, run_chunk, evaluate = self._init, self._run_chunk, self._evaluate
        if self.mesh is not None:
            specs = parallel.carry_specs(self.abstract_carry(), self._agent_axes)
            self._in_mesh = True
            shard = lambda f, i, o: jax.shard_map(f, mesh=self.mesh, in_specs=i, out_specs=o,
                                                  check_vma=False)
            init = shard(init, P(parallel.SEEDS), specs)
            run_chunk = shard(run_chunk, (specs,), (specs, P(parallel.SEEDS)))
            evaluate = shard(evaluate, (specs,), P(parallel.SEEDS))
        self.init = jax.jit(init)
        self.run_chunk = jax.jit(run_chunk, donate_argnums=0)
        self.evaluate = jax.jit(evaluate)

    # ----------------------------------------------------------------------------- set-up
    def seed_keys(self) -> jax.Array:
        """[seeds, 2]: seed i of this run is config.seed + i, so seed s alone gives the same."""
        seeds = jnp.arange(self.config.seeds) + self.config.seed
        return jax.vmap(jax.random.PRNGKey)(seeds)

    def _example_transition(self) -> agents.Transition:
        obs = jnp.zeros((self.env.observation_size,), jnp.float32)
        return agents.Transition(obs, jnp.zeros((self.env.action_size,), jnp.float32),
                                 jnp.zeros(()), jnp.zeros(()), obs)

    def _per_device(self, key: jax.Array) -> jax.Array:
        """A key of this data device's own (envs, sampling); the same key on one device."""
        if self._in_mesh and self._axis is not None:
            return jax.random.fold_in(key, jax.lax.axis_index(self._axis))
        return key

    def _init_seed(self, key: jax.Array) -> Carry:
        agent_key, env_key, train_key, eval_key = jax.random.split(key, 4)
        buffer = self._replay.init(self.config.replay.capacity // self.data_devices,
                                   self._example_transition(),
                                   obs_dtype=self.config.replay.obs_dtype)
        return Carry(self.agent.init(agent_key), buffer,
                     self.venv.reset(self._per_device(env_key)), train_key, eval_key,
                     jnp.zeros((), jnp.int32))

    def _init(self, keys: jax.Array) -> Carry:
        return jax.vmap(self._init_seed, out_axes=self._carry_axes)(keys)

    def abstract_carry(self) -> Carry:
        """Shapes and dtypes of the carry (for restoring checkpoints), without allocating."""
        if self.mesh is None or self._in_mesh is False:
            return jax.eval_shape(self._init, self.seed_keys())
        return jax.eval_shape(self.init, self.seed_keys())

    # ----------------------------------------------------------------------------- one chunk
    def to_env_action(self, action: jax.Array) -> jax.Array:
        """[-1, 1] agent actions -> [low, high] env actions."""
        return self._low + 0.5 * (action + 1.0) * (self._high - self._low)

    def _learn_seed(self, state, buffer, key, step):
        """K updates of one seed, each on a fresh minibatch (uniform, or prioritised with
        importance weights, the sampled priorities then set from the new TD errors)."""
        c, batch_size = self.config, self._local_batch

        def update(carry, k):
            state, buffer = carry
            if not c.replay.prioritized:
                state, metrics = self.agent.update(state, replay.sample(buffer, k, batch_size))
                return (state, buffer), metrics
            beta = prioritized.beta_schedule(step, c.total_steps, c.replay.priority_beta0)
            batch, index, weight = prioritized.sample(buffer, k, batch_size, beta)
            state, metrics = self.agent.update(state, batch.replace(weight=weight))
            metrics = dict(metrics)
            buffer = prioritized.update(buffer, index, metrics.pop("td_abs"),
                                        c.replay.priority_alpha, c.replay.priority_eps)
            return (state, buffer), metrics

        (state, buffer), metrics = jax.lax.scan(
            update, (state, buffer), jax.random.split(key, self.updates_per_iteration))
        metrics = jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)
        if self._axis is not None:  # losses of the local batches -> of the global batch
            metrics = jax.lax.pmean(metrics, self._axis)
        return state, buffer, metrics

    def _pretrain_seed(self, state, buffer, key):
        data = buffer.buffer if self.config.replay.prioritized else buffer

        def update(state, k):
            return self.agent.pretrain_update(state, replay.sample(data, k, self._local_batch))
        return jax.lax.scan(update, state,
                            jax.random.split(key, self.config.ofenet_pretrain_steps))[0]

    def _iteration(self, carry: Carry, _):
        c, n = self.config, self.num_envs
        split = jax.vmap(lambda k: jax.random.split(k, 4))(carry.key)  # [S, 4, 2]
        key = split[:, 0]  # the carried key stays the same on every data device
        action_key, pretrain_key, learn_key = (jax.vmap(self._per_device)(split[:, i])
                                               for i in range(1, 4))
        t = carry.step
        noise_scale = self._noise_scale
        if noise_scale is not None and self._in_mesh and self._axis is not None:
            noise_scale = jax.lax.dynamic_slice_in_dim(
                noise_scale, jax.lax.axis_index(self._axis) * self.local_envs, self.local_envs)

        action = jax.lax.cond(
            t < c.random_steps,
            lambda: jax.vmap(lambda k: jax.random.uniform(
                k, (self.local_envs, self.env.action_size), minval=-1.0, maxval=1.0))(action_key),
            lambda: jax.vmap(
                lambda s, o, k: self.agent.act(s, o, k, noise_scale=noise_scale),
                in_axes=(self._agent_axes, 0, 0))(carry.agent, carry.env.obs, action_key))
        env = self._step_envs(carry.env, self.to_env_action(action))
        transitions = agents.make_transition(carry.env.obs, action, env.reward, env.terminated,
                                             env.final_obs, c.agent.gamma)  # [S, N, ...]
        buffer = jax.vmap(self._replay.add)(carry.buffer, transitions)

        learning = t >= c.random_steps
        agent_state = carry.agent
        if c.agent.ofenet.enabled and c.ofenet_pretrain_steps > 0:
            agent_state = jax.lax.cond(
                learning & (t < c.random_steps + n),
                lambda s: jax.vmap(self._pretrain_seed, in_axes=(self._agent_axes, 0, 0),
                                   out_axes=self._agent_axes)(s, buffer, pretrain_key),
                lambda s: s, agent_state)
        learn = jax.vmap(self._learn_seed, in_axes=(self._agent_axes, 0, 0, None),
                         out_axes=(self._agent_axes, 0, 0))
        metric_shapes = jax.eval_shape(learn, agent_state, buffer, learn_key, t)[2]
        agent_state, buffer, metrics = jax.lax.cond(
            learning, lambda s, b: learn(s, b, learn_key, t),
            lambda s, b: (s, b, jax.tree.map(lambda m: jnp.zeros(m.shape, m.dtype),
                                             metric_shapes)),
            agent_state, buffer)

        done = env.terminated | env.truncated  # [S, N]
        episode_stats = {"return_sum": jnp.sum(env.completed_return, axis=1),
                         "length_sum": jnp.sum(env.completed_length, axis=1),
                         "episodes": jnp.sum(done, axis=1)}  # [S] each
        if self._axis is not None:
            episode_stats = jax.lax.psum(episode_stats, self._axis)
        out = {"learning": learning, "step": t + n, "metrics": metrics, **episode_stats}
        carry = Carry(agent_state, buffer, env, key, carry.eval_key, t + n)
        return carry, out

    def _step_envs(self, env_state: envs.VecEnvState, action: jax.Array) -> envs.VecEnvState:
        """[S, N] envs stepped as one flat VecEnv of S * N envs (see __init__)."""
        seeds, n = action.shape[:2]
        flat = jax.tree.map(lambda x: x.reshape((seeds * n,) + x.shape[2:]), env_state)
        stepped = self._all_envs.step(flat, action.reshape(seeds * n, -1))
        return jax.tree.map(lambda x: x.reshape((seeds, n) + x.shape[1:]), stepped)

    def _run_chunk(self, carry: Carry) -> tuple[Carry, dict]:
        carry, out = jax.lax.scan(self._iteration, carry, None, self.iterations_per_chunk)
        learned = jnp.sum(out["learning"])  # iterations with updates in this chunk
        weight = out["learning"].astype(jnp.float32)[:, None]  # [I, 1]
        metrics = {k: jnp.where(learned > 0,
                                jnp.sum(v * weight, axis=0) / jnp.maximum(learned, 1), jnp.nan)
                   for k, v in out["metrics"].items()}  # [S]
        episodes = jnp.sum(out["episodes"], axis=0)  # [S]
        per_episode = lambda x: jnp.where(episodes > 0,
                                          jnp.sum(x, axis=0) / jnp.maximum(episodes, 1), jnp.nan)
        bad = jnp.zeros(out["episodes"].shape, bool)  # [I, S]
        for v in out["metrics"].values():
            bad = bad | ~jnp.isfinite(v)
        first_bad = jnp.min(jnp.where(bad, out["step"][:, None], jnp.iinfo(jnp.int32).max),
                            axis=0)
        params_finite = jax.vmap(
            lambda s: jnp.all(jnp.stack([jnp.all(jnp.isfinite(x))
                                         for x in jax.tree.leaves(s)])),
            in_axes=(self._agent_axes,))(carry.agent)
        metrics.update(
            episode_return=per_episode(out["return_sum"]),
            episode_length=per_episode(out["length_sum"].astype(jnp.float32)),
            episodes=episodes,
            nonfinite_step=jnp.where(first_bad == jnp.iinfo(jnp.int32).max, -1, first_bad),
            params_finite=params_finite)
        return carry, metrics

    # ----------------------------------------------------------------------------- evaluation
    def _evaluate_seed(self, agent_state, eval_key, step):
        """Mean return of eval_episodes deterministic episodes run as parallel envs."""
        key = jax.random.fold_in(eval_key, step)
        state = jax.vmap(self.env.reset)(jax.random.split(key, self.config.eval_episodes))
        zeros = jnp.zeros((self.config.eval_episodes,), jnp.float32)

        def cond(c):
            return jnp.any(c[2])

        def body(c):
            state, ret, alive = c
            action = self.agent.act(agent_state, state.obs, None, deterministic=True)
            state = jax.vmap(self.env.step)(state, self.to_env_action(action))
            ret = ret + jnp.where(alive, state.reward, 0.0)
            return state, ret, alive & ~(state.terminated | state.truncated)

        _, ret, _ = jax.lax.while_loop(cond, body, (state, zeros, zeros == 0))
        return jnp.mean(ret)

    def _evaluate(self, carry: Carry) -> jax.Array:
        return jax.vmap(self._evaluate_seed, in_axes=(self._agent_axes, 0, None))(
            carry.agent, carry.eval_key, carry.step)

    def seed_agent_state(self, carry: Carry, i: int) -> agents.AgentState:
        """The AgentState of the i-th seed of the carry (no seeds axis)."""
        return jax.tree.map(
            lambda axis, part: part if axis is None else jax.tree.map(lambda x: x[i], part),
            self._agent_axes, carry.agent, is_leaf=lambda x: x is None)
