"""Validation of a training config: every bad value -> one ValueError naming the field, the
value and what is allowed. The agent part is checked by `agents.validate`."""

import ml_collections

from ofe_jax import agents, envs, parallel

OBS_DTYPES = ("float32", "bfloat16", "float16")
BACKENDS = ("auto", "mjx", "mujoco", "warp")


def flatten(d: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}: nested config dicts as dotted field names."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _positive_int(field: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{field} must be an int >= {minimum}, got {value!r}")


def validate(c: ml_collections.ConfigDict) -> None:
    if c.env.name not in envs.NAMES:
        raise ValueError(f"env.name: unknown environment {c.env.name!r}; choose one of "
                         f"{list(envs.NAMES)}")
    if c.env.backend not in BACKENDS:
        raise ValueError(f"env.backend must be one of {list(BACKENDS)}, got {c.env.backend!r}")
    _positive_int("seeds", c.seeds)
    _positive_int("seed", c.seed, minimum=0)
    _positive_int("total_steps", c.total_steps)
    _positive_int("env.num_envs", c.env.num_envs)
    _positive_int("env.episode_length", c.env.episode_length)
    _positive_int("replay.capacity", c.replay.capacity)
    _positive_int("random_steps", c.random_steps, minimum=0)
    _positive_int("ofenet_pretrain_steps", c.ofenet_pretrain_steps, minimum=0)
    _positive_int("eval_episodes", c.eval_episodes)
    _positive_int("keep_checkpoints", c.keep_checkpoints)
    for field in ("log_every", "eval_every", "checkpoint_every"):
        _positive_int(field, c[field])
    if c.log_every % c.env.num_envs:
        raise ValueError(f"log_every={c.log_every} must be a multiple of env.num_envs="
                         f"{c.env.num_envs} (a chunk is a whole number of env iterations)")
    if c.replay.capacity < c.env.num_envs:
        raise ValueError(f"replay.capacity={c.replay.capacity} must be >= env.num_envs="
                         f"{c.env.num_envs}")
    if c.replay.obs_dtype not in OBS_DTYPES:
        raise ValueError(f"replay.obs_dtype must be one of {list(OBS_DTYPES)}, got "
                         f"{c.replay.obs_dtype!r}")
    for field in ("priority_alpha", "priority_eps"):
        if not c.replay[field] > 0:
            raise ValueError(f"replay.{field} must be > 0, got {c.replay[field]!r}")
    if not 0 <= c.replay.priority_beta0 <= 1:
        raise ValueError(f"replay.priority_beta0 must be in [0, 1], got "
                         f"{c.replay.priority_beta0!r}")
    e = c.exploration
    for low, high in (("td3_sigma_min", "td3_sigma_max"), ("sac_scale_min", "sac_scale_max")):
        if not 0 < e[low] <= e[high]:
            raise ValueError(f"exploration.{low}={e[low]!r} and exploration.{high}={e[high]!r} "
                             f"must satisfy 0 < {low} <= {high}")
    if not c.updates_per_step > 0:
        raise ValueError(f"updates_per_step must be > 0, got {c.updates_per_step!r}")
    updates = c.env.num_envs * c.updates_per_step  # per iteration of all envs
    if updates < 1 or abs(updates - round(updates)) > 1e-9:
        raise ValueError(f"env.num_envs x updates_per_step = {c.env.num_envs} x "
                         f"{c.updates_per_step} = {updates:g} must be a whole number >= 1 "
                         f"(updates per iteration)")
    if c.agent.ofenet.enabled and c.ofenet_pretrain_steps > 0 and c.random_steps == 0:
        raise ValueError("ofenet_pretrain_steps > 0 needs random_steps >= 1 (OFENet is "
                         "pretrained on the random-action data)")
    parallel.check(c)
    env = envs.make(c.env.name, backend="mujoco")  # sizes only; cheap to build
    agents.validate(c.agent, env.observation_size, env.action_size)
