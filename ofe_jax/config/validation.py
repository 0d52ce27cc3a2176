"""Validation of a training config, run once before anything is built: every bad value ->
one ConfigError naming the field, the value and what is allowed.

`validate(config)` checks the whole training config (the agent part through
`validate_agent`, with the env's sizes); `agents.make` runs `validate_agent` for library users
who build an agent alone."""

import ml_collections

from ofe_jax.config import grid as grid_lib
from ofe_jax.config.choices import (ACTIVATIONS, ALGORITHMS, BACKENDS, COMPUTE_DTYPES,
                                   CRITIC_LOSSES, ENV_SIZES, EVAL_LOOPS, MATMUL_PRECISIONS,
                                   OBS_DTYPES, OFENET_TARGET_DIMS,
                                   TEMPERATURE_LOSSES, TORSO_KINDS)
from ofe_jax.config.choices import (MJX_DEFAULTS, MJX_IMPLS, MJX_INTEGRATORS, MJX_JACOBIANS,
                                   MJX_PRESETS)
from ofe_jax.errors import ConfigError


def _check(ok: bool, field: str, allowed: str, value) -> None:
    if not ok:
        raise ConfigError(f"{field} must be {allowed}, got {value!r}")


def _int(field: str, value, minimum: int = 1) -> None:
    _check(not isinstance(value, bool) and isinstance(value, int) and value >= minimum, field,
           f"an int >= {minimum}", value)


def _number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def _positive(field: str, value) -> None:
    _check(_number(value) and value > 0, field, "> 0", value)


def validate_agent(c: ml_collections.ConfigDict, observation_size: int,
                   action_size: int) -> None:
    """The agent config (fields named `agent.<field>`) and the sizes it is built for."""
    _check(c.get("name") in ALGORITHMS, "agent.name", f"one of {list(ALGORITHMS)}",
           c.get("name"))
    for what, size in (("observation_size", observation_size), ("action_size", action_size)):
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ConfigError(f"{what} must be a positive int, got {size!r}")
    _validate_network(c.network, "agent.network", TORSO_KINDS)
    _check(_number(c.gamma) and 0.0 <= c.gamma <= 1.0, "agent.gamma", "in [0, 1]", c.gamma)
    if "tau" in c:
        _check(_number(c.tau) and 0.0 < c.tau <= 1.0, "agent.tau", "in (0, 1]", c.tau)
    _check(isinstance(c.batch_size, int) and c.batch_size > 0, "agent.batch_size", "an int > 0",
           c.batch_size)
    _check(isinstance(c.num_critics, int) and c.num_critics >= 1, "agent.num_critics",
           "an int >= 1", c.num_critics)
    for lr in ("actor_learning_rate", "critic_learning_rate"):
        _positive(f"agent.{lr}", c[lr])
    _validate_ofenet(c.ofenet, observation_size)
    _validate_critic_loss(c)
    _check(c.compute_dtype in COMPUTE_DTYPES, "agent.compute_dtype",
           f"one of {list(COMPUTE_DTYPES)}", c.compute_dtype)
    _check(c.get("matmul_precision", "default") in MATMUL_PRECISIONS, "agent.matmul_precision",
           f"one of {list(MATMUL_PRECISIONS)}", c.get("matmul_precision"))
    if c.name in ("sac", "crossq"):
        _positive("agent.alpha_learning_rate", c.alpha_learning_rate)
        _positive("agent.init_alpha", c.init_alpha)
        _check(c.temperature_loss in TEMPERATURE_LOSSES, "agent.temperature_loss",
               f"one of {list(TEMPERATURE_LOSSES)}", c.temperature_loss)
        _check(c.log_std_min < c.log_std_max, "agent.log_std_min",
               f"< log_std_max={c.log_std_max}", c.log_std_min)
    if c.name in ("td3", "crossq"):
        _check(isinstance(c.policy_delay, int) and c.policy_delay >= 1, "agent.policy_delay",
               "an int >= 1", c.policy_delay)
    if c.name == "td3":
        for f in ("target_noise", "target_noise_clip", "exploration_noise"):
            _check(_number(c[f]) and c[f] >= 0, f"agent.{f}", ">= 0", c[f])
    if c.name == "crossq":
        _validate_crossq(c)


def _validate_network(n: ml_collections.ConfigDict, name: str, kinds: tuple) -> None:
    _check(n.kind in kinds, f"{name}.kind", f"one of {list(kinds)}", n.kind)
    _check(isinstance(n.units, int) and n.units > 0, f"{name}.units", "an int > 0", n.units)
    _check(isinstance(n.layers, int) and n.layers > 0, f"{name}.layers", "an int > 0",
           n.layers)
    _check(n.activation in ACTIVATIONS, f"{name}.activation", f"one of {sorted(ACTIVATIONS)}",
           n.activation)


def _validate_critic_loss(c: ml_collections.ConfigDict) -> None:
    _check(c.critic_loss in CRITIC_LOSSES, "agent.critic_loss", f"one of {list(CRITIC_LOSSES)}",
           c.critic_loss)
    h = c.hl_gauss
    _check(isinstance(h.num_bins, int) and not isinstance(h.num_bins, bool) and h.num_bins >= 2,
           "agent.hl_gauss.num_bins", "an int >= 2", h.num_bins)
    if not (_number(h.min_value) and _number(h.max_value) and h.min_value < h.max_value):
        raise ConfigError(f"agent.hl_gauss.min_value={h.min_value!r} must be < "
                          f"agent.hl_gauss.max_value={h.max_value!r}")
    _positive("agent.hl_gauss.sigma_ratio", h.sigma_ratio)


def _validate_crossq(c: ml_collections.ConfigDict) -> None:
    """CrossQ (Bhatt et al. 2024): two critics, BatchRenorm, Adam beta1."""
    _check(c.num_critics == 2, "agent.num_critics", "2 for crossq (its clipped double Q)",
           c.num_critics)
    _validate_network(c.critic_network, "agent.critic_network", ("mlp", "dense"))
    _check(c.network.kind in ("mlp", "dense"), "agent.network.kind",
           "one of ['mlp', 'dense'] for crossq (BatchRenorm layers)", c.network.kind)
    _check(_number(c.adam_b1) and 0.0 <= c.adam_b1 < 1.0, "agent.adam_b1", "in [0, 1)",
           c.adam_b1)
    b = c.batch_renorm
    _check(_number(b.momentum) and 0.0 <= b.momentum < 1.0, "agent.batch_renorm.momentum",
           "in [0, 1)", b.momentum)
    for f in ("epsilon", "r_max", "d_max"):
        _positive(f"agent.batch_renorm.{f}", b[f])
    _check(b.r_max >= 1.0, "agent.batch_renorm.r_max", ">= 1", b.r_max)
    _int("agent.batch_renorm.warmup_steps", b.warmup_steps, minimum=0)


def _validate_ofenet(o: ml_collections.ConfigDict, observation_size: int) -> None:
    if not o.enabled:
        return
    _check(isinstance(o.layers, int) and o.layers > 0, "agent.ofenet.layers", "an int > 0",
           o.layers)
    _check(isinstance(o.total_units, int) and o.total_units >= o.layers
           and o.total_units % o.layers == 0, "agent.ofenet.total_units",
           f"a positive multiple of ofenet.layers={o.layers}", o.total_units)
    _check(o.activation in ACTIVATIONS, "agent.ofenet.activation",
           f"one of {sorted(ACTIVATIONS)}", o.activation)
    _check(o.target_dim in OFENET_TARGET_DIMS or o.target_dim == -1
           or (isinstance(o.target_dim, int) and 0 < o.target_dim <= observation_size),
           "agent.ofenet.target_dim",
           f"'auto', -1 or an int in [1, observation_size={observation_size}]", o.target_dim)
    _check(isinstance(o.separate_batch, bool), "agent.ofenet.separate_batch", "True or False",
           o.separate_batch)
    _positive("agent.ofenet.learning_rate", o.learning_rate)


def _validate_schedule(c: ml_collections.ConfigDict) -> None:
    _int("seeds", c.seeds)
    _int("seed", c.seed, minimum=0)
    _int("total_steps", c.total_steps)
    _int("env.num_envs", c.env.num_envs)
    _int("env.episode_length", c.env.episode_length)
    _int("replay.capacity", c.replay.capacity)
    _int("random_steps", c.random_steps, minimum=0)
    _int("ofenet_pretrain_steps", c.ofenet_pretrain_steps, minimum=0)
    _int("eval_episodes", c.eval_episodes)
    _check(c.eval_loop in EVAL_LOOPS, "eval_loop", f"one of {list(EVAL_LOOPS)}", c.eval_loop)
    _int("keep_checkpoints", c.keep_checkpoints)
    for field in ("log_every", "eval_every", "checkpoint_every"):
        _int(field, c[field])
    if c.log_every % c.env.num_envs:
        raise ConfigError(f"log_every={c.log_every} must be a multiple of env.num_envs="
                          f"{c.env.num_envs} (a chunk is a whole number of env iterations)")
    _positive("updates_per_step", c.updates_per_step)
    _positive("call_seconds", c.call_seconds)
    updates = c.env.num_envs * c.updates_per_step  # per iteration of all envs
    if updates < 1 or abs(updates - round(updates)) > 1e-9:
        raise ConfigError(f"env.num_envs x updates_per_step = {c.env.num_envs} x "
                          f"{c.updates_per_step} = {updates:g} must be a whole number >= 1 "
                          f"(updates per iteration)")
    if c.agent.ofenet.enabled and c.ofenet_pretrain_steps > 0 and c.random_steps == 0:
        raise ConfigError("ofenet_pretrain_steps > 0 needs random_steps >= 1 (OFENet is "
                          "pretrained on the random-action data)")


def _validate_env_mjx(env: ml_collections.ConfigDict) -> None:
    """env.mjx: each field's value, and none changed where no MJX model is built."""
    m = env.mjx
    for field in ("solver_iterations", "ls_iterations"):
        _int(f"env.mjx.{field}", m[field], minimum=0)
    for field, allowed in (("integrator", MJX_INTEGRATORS), ("jacobian", MJX_JACOBIANS),
                           ("impl", MJX_IMPLS), ("preset", tuple(MJX_PRESETS))):
        _check(m[field] in allowed, f"env.mjx.{field}", f"one of {list(allowed)}", m[field])
    changed = {k: m[k] for k, default in MJX_DEFAULTS.items() if m[k] != default}
    if env.backend == "mujoco" and changed:
        field, value = next(iter(changed.items()))
        raise ConfigError(f"env.mjx.{field} must be {MJX_DEFAULTS[field]!r} with env.backend="
                          f"'mujoco' (C MuJoCo steps the XML's physics; env.mjx.* configure the "
                          f"mjx backend only), got {value!r}")
    if env.backend == "warp":
        _check(m.impl in ("", "warp"), "env.mjx.impl", "'' or 'warp' with env.backend='warp'",
               m.impl)
    if m.impl == "warp":
        import importlib.util

        _check(importlib.util.find_spec("warp") is not None, "env.mjx.impl",
               "'' or 'jax' here: 'warp' needs warp-lang (pip install warp-lang), which is not "
               "installed", m.impl)


def _validate_replay(c: ml_collections.ConfigDict) -> None:
    r = c.replay
    if r.capacity < c.env.num_envs:
        raise ConfigError(f"replay.capacity={r.capacity} must be >= env.num_envs="
                          f"{c.env.num_envs}")
    _check(r.obs_dtype in OBS_DTYPES, "replay.obs_dtype", f"one of {list(OBS_DTYPES)}",
           r.obs_dtype)
    _check(isinstance(r.prioritized, bool), "replay.prioritized", "True or False", r.prioritized)
    for field in ("priority_alpha", "priority_eps"):
        _positive(f"replay.{field}", r[field])
    _check(_number(r.priority_beta0) and 0 <= r.priority_beta0 <= 1, "replay.priority_beta0",
           "in [0, 1]", r.priority_beta0)
    e = c.exploration
    for low, high in (("td3_sigma_min", "td3_sigma_max"), ("sac_scale_min", "sac_scale_max")):
        if not (_number(e[low]) and _number(e[high]) and 0 < e[low] <= e[high]):
            raise ConfigError(f"exploration.{low}={e[low]!r} and exploration.{high}={e[high]!r} "
                              f"must satisfy 0 < {low} <= {high}")


def validate_mesh(config: ml_collections.ConfigDict, device_count: int | None = None) -> None:
    """A (seeds, data) mesh that cannot hold the run -> ConfigError naming the numbers."""
    p = config.parallel
    for field in ("seeds_devices", "data_devices", "num_processes", "initialization_timeout_s",
                  "heartbeat_timeout_s", "shutdown_timeout_s"):
        _int(f"parallel.{field}", p[field])
    _int("parallel.process_id", p.process_id, minimum=0)
    points = len(grid_lib.grid_points(config))
    members = config.seeds * points
    if members % p.seeds_devices:
        shown = f"seeds={config.seeds}" + (f" x {points} grid points = {members} members"
                                           if points > 1 else "")
        raise ConfigError(f"parallel.seeds_devices={p.seeds_devices} does not divide {shown}")
    if config.replay.prioritized and p.data_devices > config.env.num_envs:
        raise ConfigError(f"prioritised replay on a data axis of {p.data_devices} devices needs"
                          f" at least as many envs, got env.num_envs={config.env.num_envs}")
    for what, value in (("env.num_envs", config.env.num_envs),
                        ("agent.batch_size", config.agent.batch_size),
                        ("replay.capacity", config.replay.capacity)):
        if value % p.data_devices:
            raise ConfigError(f"parallel.data_devices={p.data_devices} does not divide "
                              f"{what}={value}")
    if p.num_processes > 1 and not p.coordinator_address:
        raise ConfigError(f"parallel.num_processes={p.num_processes} needs "
                          f"parallel.coordinator_address (host:port of process 0)")
    if device_count is None:
        import jax

        device_count = jax.device_count()
    needed = p.seeds_devices * p.data_devices
    if needed > device_count:
        raise ConfigError(f"parallel.seeds_devices x parallel.data_devices = "
                          f"{p.seeds_devices} x {p.data_devices} = {needed} devices, but only "
                          f"{device_count} are available")


def validate(c: ml_collections.ConfigDict,
             device_count: int | None = None) -> tuple[int, int]:
    """Checks the whole training config; returns the env's (observation_size, action_size).
    device_count: the devices the mesh may use (None: jax.device_count(), which starts JAX's
    backend; a large number checks all but the device count, without starting it). Imports
    no jax then: the commands run it before they import the trainer."""
    if c.env.name not in ENV_SIZES:
        raise ConfigError(f"env.name: unknown environment {c.env.name!r}; choose one of "
                          f"{list(ENV_SIZES)}")
    _check(c.env.backend in BACKENDS, "env.backend", f"one of {list(BACKENDS)}", c.env.backend)
    _check(isinstance(c.env.normalize_obs, bool), "env.normalize_obs", "True or False",
           c.env.normalize_obs)
    _validate_env_mjx(c.env)
    _validate_schedule(c)
    _validate_replay(c)
    validate_mesh(c, device_count)
    observation_size, action_size = ENV_SIZES[c.env.name]
    validate_agent(c.agent, observation_size, action_size)
    _validate_grid(c, observation_size, action_size)
    return observation_size, action_size


def _validate_grid(c: ml_collections.ConfigDict, observation_size: int,
                   action_size: int) -> None:
    """Every gridded field is one this agent has, and every grid point is a valid config."""
    for field, values in grid_lib.gridded(c).items():
        section, _, name = field.rpartition(".")
        node = c.agent[section] if section else c.agent
        if name not in node:
            raise ConfigError(f"grid.{field}: agent {c.agent.name!r} has no {field}")
        for value in values:
            point = c.agent.copy_and_resolve_references()
            (point[section] if section else point)[name] = value
            try:
                validate_agent(point, observation_size, action_size)
            except ConfigError as e:
                raise ConfigError(f"grid.{field}={value:g}: {e}") from None
