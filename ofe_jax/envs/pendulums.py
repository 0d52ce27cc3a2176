"""Small balance tasks with Gymnasium v5 semantics: InvertedPendulum, InvertedDoublePendulum.

Mirrors ``gymnasium/envs/mujoco/inverted_pendulum_v5.py`` and
``inverted_double_pendulum_v5.py``: same XML, frame_skip, observation, reward, termination and
reset noise; constants are keyword options with the v5 defaults. Cheap to compile: the test
suite uses them for the wrapper checks (auto-reset, episode statistics).
"""

from __future__ import annotations

import jax.numpy as jnp

from ofe_jax.envs.task import Task


class InvertedPendulum(Task):
    """InvertedPendulum-v5: obs 4 = qpos (2) + qvel (2); reward 1 while ``|qpos[1]| <= 0.2``
    and the obs is finite, else 0 and terminated; uniform reset noise."""

    xml_file, frame_skip = "inverted_pendulum.xml", 2
    reward_terms = ("reward_survive",)

    def __init__(self, reset_noise_scale=0.01, max_pole_angle=0.2):
        super().__init__(reset_noise_scale)
        self.max_pole_angle = max_pole_angle  # v5 hard-codes 0.2 rad

    def observation(self, f):
        return jnp.concatenate([f["qpos"], f["qvel"]])

    def outcome(self, prev, f, action):
        obs = self.observation(f)
        terminated = jnp.logical_not(jnp.all(jnp.isfinite(obs))) | (
            jnp.abs(obs[1]) > self.max_pole_angle)
        reward = jnp.logical_not(terminated).astype(jnp.float32)
        return reward, terminated, {"reward_survive": reward}


class InvertedDoublePendulum(Task):
    """InvertedDoublePendulum-v5: obs 9 = qpos[:1], sin(qpos[1:]), cos(qpos[1:]),
    clip(qvel, +-10), clip(qfrc_constraint, +-10)[:1]. Terminated when the tip site height
    ``y <= 1``; reward = alive bonus - distance penalty - velocity penalty. qpos noise uniform,
    qvel noise ``scale * N(0, 1)``."""

    xml_file, frame_skip = "inverted_double_pendulum.xml", 5
    fields = ("qpos", "qvel", "site_xpos", "qfrc_constraint")
    reward_terms = ("reward_survive", "distance_penalty", "velocity_penalty")

    def __init__(self, healthy_reward=10.0, reset_noise_scale=0.1, distance_weights=(0.01, 1.0),
                 velocity_weights=(1e-3, 5e-3), target_height=2.0, min_height=1.0):
        super().__init__(reset_noise_scale)
        self.healthy_reward = healthy_reward
        self.distance_weights = distance_weights  # v5: 0.01 * x**2 + (y - 2)**2
        self.velocity_weights = velocity_weights  # v5: 1e-3 * v1**2 + 5e-3 * v2**2
        self.target_height = target_height
        self.min_height = min_height  # v5: terminated = y <= 1

    def reset_noise(self, key):
        return self.reset_noise_uniform_normal(key)

    def observation(self, f):
        qpos, qvel = f["qpos"], f["qvel"]
        return jnp.concatenate([
            qpos[:1], jnp.sin(qpos[1:]), jnp.cos(qpos[1:]), jnp.clip(qvel, -10.0, 10.0),
            jnp.clip(f["qfrc_constraint"], -10.0, 10.0)[:1]])

    def outcome(self, prev, f, action):
        x, y = f["site_xpos"][0, 0], f["site_xpos"][0, 2]
        terminated = y <= self.min_height
        v1, v2 = f["qvel"][1], f["qvel"][2]
        wx, wy = self.distance_weights
        dist_penalty = wx * x**2 + wy * (y - self.target_height) ** 2
        w1, w2 = self.velocity_weights
        vel_penalty = w1 * v1**2 + w2 * v2**2
        alive = self.healthy_reward * jnp.logical_not(terminated).astype(jnp.float32)
        reward = alive - dist_penalty - vel_penalty
        info = {"reward_survive": alive, "distance_penalty": -dist_penalty,
                "velocity_penalty": -vel_penalty}
        return reward, terminated, info
