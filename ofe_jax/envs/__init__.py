"""Functional MuJoCo environments with Gymnasium v5 semantics on two physics backends.

    from ofe_jax import envs
    env = envs.make("Hopper-v5", backend="auto")   # "mjx" on GPU/TPU, "mujoco" on CPU
    venv = envs.VecEnv(env, num_envs=64)           # batching, clipping, auto-reset, stats

See ``core.py`` (interface), ``backends.py`` (physics), ``locomotion.py`` / ``pendulums.py``
(tasks), ``gymnasium.py`` (evaluate a policy in the official Gymnasium env).
"""

from __future__ import annotations

import inspect

from ofe_jax.config import choices
from ofe_jax.envs import backends as _backends
from ofe_jax.envs.core import Env, EnvState, VecEnv, VecEnvState, scale_action
from ofe_jax.envs.locomotion import (HUMANOID_MJX_SOLVER, Ant, HalfCheetah, Hopper, Humanoid,
                                     Walker2d)
from ofe_jax.envs.pendulums import InvertedDoublePendulum, InvertedPendulum

TASKS = {
    "Hopper-v5": Hopper,
    "Walker2d-v5": Walker2d,
    "HalfCheetah-v5": HalfCheetah,
    "Ant-v5": Ant,
    "Humanoid-v5": Humanoid,
    "InvertedPendulum-v5": InvertedPendulum,
    "InvertedDoublePendulum-v5": InvertedDoublePendulum,
}
NAMES = tuple(TASKS)
BACKENDS = _backends.BACKENDS
BACKEND_OPTIONS = choices.BACKEND_OPTIONS


def make(name: str, backend: str = "auto", episode_length: int = 1000, **options) -> Env:
    """Builds the task ``name`` (one of :data:`NAMES`) on ``backend``.

    Args:
      name: a Gymnasium v5 id, e.g. ``"Hopper-v5"``.
      backend: ``"auto"`` (mjx on an accelerator, mujoco on CPU), ``"mjx"``, ``"mujoco"`` or
        ``"warp"`` (mjx with ``impl="warp"``; needs warp-lang).
      episode_length: time limit in steps (``TimeLimit``: 1000 for every v5 task), applied as
        truncation.
      **options: task options (the v5 constructor keywords, e.g. ``ctrl_cost_weight``) and
        backend options (:data:`BACKEND_OPTIONS`; see ``backends.MjxBackend`` for what each
        speed option changes relative to Gymnasium).
    """
    if name not in TASKS:
        raise ValueError(f"unknown environment {name!r}; choose one of {NAMES}")
    resolved = _backends.resolve(backend)
    task_cls = TASKS[name]
    task_params = set(inspect.signature(task_cls.__init__).parameters) - {"self"}
    physics_keys = set(BACKEND_OPTIONS["mujoco" if resolved == "mujoco" else "mjx"])
    unknown = set(options) - task_params - physics_keys
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)} for {name} on backend "
                         f"{resolved!r}; task options: {sorted(task_params)}; backend options: "
                         f"{sorted(physics_keys)}")
    task = task_cls(**{k: v for k, v in options.items() if k in task_params})
    physics = _backends.build(resolved, task.model, task.frame_skip, task.fields,
                              mjx_solver=task.mjx_solver,
                              **{k: v for k, v in options.items() if k in physics_keys})
    return Env(name, task, physics, episode_length=episode_length)


def mjx_options(fields) -> dict:
    """``make``'s mjx options for a set of ``env.mjx`` config fields (a mapping; fields not in it
    are at their defaults): the fields that differ from their defaults (``choices.MJX_DEFAULTS``,
    the XML's physics), with ``preset``'s values (``choices.MJX_PRESETS``) for the fields left at
    theirs. ``{"preset": "fast"}`` -> ``{"solver_iterations": 4, "ls_iterations": 8}``."""
    defaults = choices.MJX_DEFAULTS
    values = {k: fields.get(k, default) for k, default in defaults.items() if k != "preset"}
    for k, v in choices.MJX_PRESETS[fields.get("preset", "")].items():
        if values[k] == defaults[k]:
            values[k] = v
    return {k: v for k, v in values.items() if v != defaults[k]}


def config_options(env_config) -> dict:
    """The backend options of a training config's env section (``config.env``): ``mjx_options``
    of ``env.mjx`` where ``env.backend`` resolves to mjx or warp, none where it resolves to
    "mujoco" (C MuJoCo steps the XML's physics; with an explicit ``backend="mujoco"``,
    validation refuses ``env.mjx`` fields changed from their defaults)."""
    fields = env_config.get("mjx")
    if fields is None or _backends.resolve(env_config.backend) == "mujoco":
        return {}
    return mjx_options(fields)


__all__ = ["NAMES", "BACKENDS", "Env", "EnvState", "VecEnv", "VecEnvState", "make", "scale_action",
           "mjx_options", "config_options", "HUMANOID_MJX_SOLVER"]
