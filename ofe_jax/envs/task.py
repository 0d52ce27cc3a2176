"""Task base class: Gymnasium v5 task logic (observation, reward, termination, reset noise) in
jnp, written once on top of the physics quantities any backend exposes (``backends.py``).

A task reads a dict ``f`` of mjData quantities (float32, no batch axis; e.g. ``f["qpos"]``
[nq]) after the step and ``prev`` the same dict before it. Tasks hold only static options
(reward weights, ranges: keyword options with the v5 defaults) and model constants.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import mujoco
import numpy as np


def gymnasium_asset(xml_file: str) -> str:
    """Path of an XML in the installed Gymnasium's MuJoCo assets (the v5 envs' own files)."""
    import gymnasium.envs.mujoco as gym_mujoco

    return os.path.join(os.path.dirname(gym_mujoco.__file__), "assets", xml_file)


class Task:
    """One Gymnasium v5 MuJoCo task. Subclasses set the class attributes and the methods."""

    xml_file: str = ""
    frame_skip: int = 1
    fields: tuple[str, ...] = ("qpos", "qvel")  # mjData quantities read by the task
    reward_terms: tuple[str, ...] = ()  # keys of EnvState.info (Gymnasium's info names)
    mjx_solver: int | None = None  # solver override for the mjx backend (None: the XML's)

    def __init__(self, reset_noise_scale: float):
        self.reset_noise_scale = float(reset_noise_scale)
        self.model = mujoco.MjModel.from_xml_path(gymnasium_asset(self.xml_file))
        data = mujoco.MjData(self.model)
        # Gymnasium MujocoEnv.__init__: init_qpos/init_qvel = a fresh MjData's qpos/qvel.
        self.init_qpos = np.array(data.qpos, np.float32)  # [nq] (= model.qpos0)
        self.init_qvel = np.array(data.qvel, np.float32)  # [nv] (zeros)

    @property
    def contact_force_size(self) -> int:
        """How many trailing observation entries are contact forces (cfrc_ext): what OFENet's
        auxiliary target leaves out (Ota et al. 2020). 0 for tasks without them."""
        return 0

    @property
    def dt(self) -> float:
        """Seconds per env step: ``opt.timestep * frame_skip`` (Gymnasium ``MujocoEnv.dt``)."""
        return float(self.model.opt.timestep) * self.frame_skip

    # --- reset noise (Gymnasium reset_model) -------------------------------------------------
    def _uniform(self, key, size):
        s = self.reset_noise_scale
        return jax.random.uniform(key, (size,), jnp.float32, minval=-s, maxval=s)

    def _normal(self, key, size):
        return self.reset_noise_scale * jax.random.normal(key, (size,), jnp.float32)

    def reset_noise(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Default v5 noise: qpos and qvel both ``U(-scale, scale)`` around the initial state."""
        qpos_key, qvel_key = jax.random.split(key)
        qpos = self.init_qpos + self._uniform(qpos_key, self.model.nq)
        qvel = self.init_qvel + self._uniform(qvel_key, self.model.nv)
        return qpos, qvel

    def reset_noise_uniform_normal(self, key):
        """v5 noise of HalfCheetah/Ant/InvertedDoublePendulum: qpos uniform, qvel
        ``scale * N(0, 1)``."""
        qpos_key, qvel_key = jax.random.split(key)
        qpos = self.init_qpos + self._uniform(qpos_key, self.model.nq)
        qvel = self.init_qvel + self._normal(qvel_key, self.model.nv)
        return qpos, qvel

    # --- per-step logic ----------------------------------------------------------------------
    def observation(self, f: dict[str, jax.Array]) -> jax.Array:
        """[obs] float32 observation from the quantities after a step (or reset)."""
        raise NotImplementedError

    def outcome(self, prev, f, action) -> tuple[jax.Array, jax.Array, dict[str, jax.Array]]:
        """(reward [], terminated [] bool, info {term: []}) of a step from ``prev`` to ``f``."""
        raise NotImplementedError


def control_cost(weight: float, action: jax.Array) -> jax.Array:
    """``weight * sum(action**2)`` (v5 ``control_cost``; the action as given, unclipped)."""
    return weight * jnp.sum(jnp.square(action))


def in_open_range(x, bounds) -> jax.Array:
    """``low < x < high`` elementwise (Gymnasium's healthy-range tests are strict)."""
    low, high = bounds
    return jnp.logical_and(low < x, x < high)
