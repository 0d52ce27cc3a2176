"""What a run is made of, derived once from a validated config: the sizes (`Plan`) and the
components (`Parts`: env, agent, replay, exploration levels). Both are frozen; the compiled
functions of collection.py, learning.py and loop.py close over them."""

import dataclasses
import math

import jax.numpy as jnp
import ml_collections
import numpy as np

from ofe_jax import agents, envs, replay
from ofe_jax.config import grid as grid_lib, validation
from ofe_jax.training import mesh


@dataclasses.dataclass(frozen=True)
class Plan:
    """Sizes of a run. "local" = per device of the mesh (equal to the global size on one)."""

    seed: int  # first seed; the run trains seed .. seed + seeds - 1
    seeds: int
    grid: tuple  # the hyperparameter grid's points ({field: value} each; ({},) without a grid)
    members: int  # len(grid) * seeds: the vmapped axis (grid point major, then seed)
    local_members: int  # members per device along the mesh's `seeds` axis
    num_envs: int  # envs (Ape-X actors) per seed
    local_envs: int  # envs per device along the `data` axis
    data_devices: int
    batch_size: int
    local_batch: int
    local_capacity: int  # replay slots per seed and data device
    iterations_per_chunk: int  # env iterations (num_envs steps each) per log interval ("chunk")
    steps_per_chunk: int  # env steps per seed per chunk
    num_chunks: int
    total_steps: int  # num_chunks * steps_per_chunk (total_steps rounded up to whole chunks)
    updates_per_iteration: int  # K = num_envs * updates_per_step
    random_steps: int
    random_iterations: int  # iterations of the random phase: ceil(random_steps / num_envs)
    # Compiled calls are `length` iterations long, `length` a divisor of call_unit =
    # gcd(iterations_per_chunk, random_iterations): calls then end on every log boundary and
    # on the phase boundary (schedule.py picks the length, bounded in wall time).
    call_unit: int
    iterations_per_group: int  # learning iterations per static delay group (learning.py)
    static_delay: bool  # TD3/CrossQ's delay scheduled statically (needs groups | call_unit)
    pretrain_steps: int  # OFENet-only updates at the start of learning (0 without OFENet)
    pretrain_call: int  # OFENet-only updates per compiled call (a divisor of pretrain_steps)
    eval_episodes: int
    eval_scan: bool  # evaluate with a fixed-length masked scan (else a while loop)
    # The updates of a learning iteration inside a conditional that is always taken, on CPU
    # only (loop._learning_iteration): a fusion boundary between the replay write and the
    # sampling (XLA:CPU runs branches natively, no host round trip).
    fence_learning: bool
    observation_size: int
    action_size: int


def make_plan(config: ml_collections.ConfigDict, observation_size: int,
              action_size: int, platform: str = "cpu") -> Plan:
    """The run's sizes; platform: where it runs ("cpu", "gpu", ...: the evaluation loop's
    form for eval_loop "auto")."""
    c, p = config, config.parallel
    steps_per_chunk = (c.log_every // c.env.num_envs) * c.env.num_envs
    num_chunks = -(-c.total_steps // steps_per_chunk)
    grid = tuple(grid_lib.grid_points(c))
    members = len(grid) * c.seeds
    iterations = c.log_every // c.env.num_envs
    random_iterations = -(-c.random_steps // c.env.num_envs)
    updates = round(c.env.num_envs * c.updates_per_step)
    delay = c.agent.get("policy_delay", 1)
    pretrain = c.ofenet_pretrain_steps if c.agent.ofenet.enabled else 0
    unit = math.gcd(iterations, random_iterations)
    group = math.lcm(updates, delay) // updates  # iterations covering whole delay cycles
    static = delay > 1 and unit % group == 0
    return Plan(
        seed=c.seed, seeds=c.seeds, grid=grid, members=members,
        local_members=members // p.seeds_devices,
        num_envs=c.env.num_envs, local_envs=c.env.num_envs // p.data_devices,
        data_devices=p.data_devices, batch_size=c.agent.batch_size,
        local_batch=c.agent.batch_size // p.data_devices,
        local_capacity=c.replay.capacity // p.data_devices,
        iterations_per_chunk=iterations, steps_per_chunk=steps_per_chunk,
        num_chunks=num_chunks, total_steps=num_chunks * steps_per_chunk,
        updates_per_iteration=updates, random_steps=c.random_steps,
        random_iterations=random_iterations, call_unit=unit,
        iterations_per_group=group if static else 1, static_delay=static,
        pretrain_steps=pretrain, pretrain_call=largest_divisor(pretrain, PRETRAIN_CALL_MAX),
        eval_episodes=c.eval_episodes,
        eval_scan=c.eval_loop == "scan" or (c.eval_loop == "auto" and platform != "cpu"),
        fence_learning=platform == "cpu",
        observation_size=observation_size, action_size=action_size)


# OFENet pretraining runs in calls of at most this many updates (a bounded time per call).
PRETRAIN_CALL_MAX = 1000


def largest_divisor(n: int, at_most: int) -> int:
    """The largest divisor of n that is <= at_most (n itself if n <= at_most; 0 for 0)."""
    return max((d for d in range(1, min(n, at_most) + 1) if n % d == 0), default=0)


def member_seeds(plan: Plan) -> list[int]:
    """The seed of each member (grid point major)."""
    return [plan.seed + m % plan.seeds for m in range(plan.members)]


def member_points(plan: Plan) -> list[dict]:
    """The grid point ({field: value}) of each member."""
    return [plan.grid[m // plan.seeds] for m in range(plan.members)]


def exploration_ladder(num_actors: int, low: float, high: float) -> np.ndarray:
    """[num_actors] levels high * (low / high)^(i / (num_actors - 1)): actor 0 explores most
    (Ape-X: eps_i = eps^(1 + alpha * i / (N - 1))); one actor gets `high`."""
    if num_actors == 1:
        return np.full((1,), high, np.float32)
    fraction = np.arange(num_actors, dtype=np.float64) / (num_actors - 1)
    return (high * (low / high) ** fraction).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Parts:
    """The components of a run. `axis` is the data-parallel mesh axis (None on one data
    device); every function built on these runs inside shard_map whenever it is set."""

    config: ml_collections.ConfigDict
    plan: Plan
    env: envs.Env  # one env (evaluation episodes, sizes, bounds)
    flat_envs: envs.VecEnv  # all local members' envs as ONE VecEnv (see collection.py)
    agent: agents.Agent
    replay: replay.Replay
    noise_scale: np.ndarray | None  # [num_envs] per-actor exploration levels, or None
    action_low: np.ndarray  # [A] env bounds
    action_high: np.ndarray
    axis: str | None
    metric_names: tuple  # the scalar metrics an update reports (the log's columns)

    def without_axis(self) -> "Parts":
        """The same parts for tracing outside shard_map (shapes only, e.g. for specs)."""
        return dataclasses.replace(self, axis=None)


def build(config: ml_collections.ConfigDict, platform: str | None = None) -> Parts:
    """Validates `config` (once) and builds its plan and components, for `platform` (default:
    JAX's backend here; the plan of another target passes its own)."""
    observation_size, action_size = validation.validate(config)
    if platform is None:
        import jax

        platform = jax.default_backend()
    plan = make_plan(config, observation_size, action_size, platform)
    env = envs.make(config.env.name, backend=config.env.backend,
                    episode_length=config.env.episode_length, **envs.config_options(config.env))
    axis = mesh.DATA if plan.data_devices > 1 else None
    noise_scale = None
    if config.exploration.per_actor:
        e, td3 = config.exploration, config.agent.name == "td3"
        noise_scale = exploration_ladder(
            plan.num_envs, e.td3_sigma_min if td3 else e.sac_scale_min,
            e.td3_sigma_max if td3 else e.sac_scale_max)
    return Parts(
        config=config, plan=plan, env=env,
        flat_envs=envs.VecEnv(env, plan.local_members * plan.local_envs),
        agent=agents.build(config.agent, observation_size, action_size, axis_name=axis,
                           contact_force_size=env.contact_force_size),
        replay=replay.make(config.replay), noise_scale=noise_scale,
        action_low=np.asarray(env.action_low), action_high=np.asarray(env.action_high),
        axis=axis, metric_names=_metric_names(config, plan, env.contact_force_size))


def _metric_names(config, plan: Plan, contact_force_size: int) -> tuple:
    """The scalar metrics of one update (traced for shapes only, by an agent without a mesh
    axis)."""
    import jax

    agent = agents.build(config.agent, plan.observation_size, plan.action_size,
                         contact_force_size=contact_force_size)
    state = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    obs = jnp.zeros((2, plan.observation_size))
    batch = agents.Transition(obs, jnp.zeros((2, plan.action_size)), jnp.zeros(2),
                              jnp.zeros(2), obs)
    return tuple(sorted(k for k in jax.eval_shape(agent.update, state, batch)[1]
                        if k != "td_abs"))


def to_env_action(parts: Parts, action: jnp.ndarray) -> jnp.ndarray:
    """[-1, 1] agent actions -> [low, high] env actions."""
    return envs.scale_action(action, parts.action_low, parts.action_high)
