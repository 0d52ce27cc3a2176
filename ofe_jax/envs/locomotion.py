"""Locomotion tasks with Gymnasium v5 semantics: Hopper, Walker2d, HalfCheetah, Ant, Humanoid.

Each class mirrors ``gymnasium/envs/mujoco/<task>_v5.py`` (Gymnasium 1.x): same XML (loaded
from the installed Gymnasium's assets), frame_skip, observation layout, reward terms and
weights, healthy ranges, reset noise. Every constant is a keyword option with the v5 default.
The 1000-step limit is a *truncation*, applied by :class:`ofe_jax.envs.core.Env`.

Documented deviation: Humanoid-v5's XML asks for the PGS constraint solver, which MJX does not
implement; on the ``"mjx"`` backend Humanoid uses ``HUMANOID_MJX_SOLVER`` (Newton) instead. The
``"mujoco"`` backend keeps PGS (exactly Gymnasium). Trajectories agree closely for short
horizons and then drift apart (contacts are solved by a different algorithm).
"""

from __future__ import annotations

import jax.numpy as jnp
import mujoco

from ofe_jax.envs.task import Task, control_cost, in_open_range

HUMANOID_MJX_SOLVER = mujoco.mjtSolver.mjSOL_NEWTON  # MJX has no PGS (Humanoid-v5's XML)


class _PlanarRunner(Task):
    """Hopper/Walker2d/HalfCheetah: forward reward on ``qpos[0]``, obs = qpos[1:], qvel."""

    clip_qvel: float | None = 10.0  # v5 obs clip of qvel to [-10, 10] (not HalfCheetah)
    reward_terms = ("reward_forward", "reward_ctrl", "reward_survive")

    def __init__(self, forward_reward_weight, ctrl_cost_weight, healthy_reward,
                 terminate_when_unhealthy, reset_noise_scale,
                 exclude_current_positions_from_observation):
        super().__init__(reset_noise_scale)
        self.forward_reward_weight = forward_reward_weight
        self.ctrl_cost_weight = ctrl_cost_weight
        self.healthy_reward = healthy_reward
        self.terminate_when_unhealthy = terminate_when_unhealthy
        self.exclude_x = bool(exclude_current_positions_from_observation)

    def observation(self, f):
        position = f["qpos"][1:] if self.exclude_x else f["qpos"]  # [nq - 1]
        velocity = f["qvel"]  # [nv]
        if self.clip_qvel is not None:
            velocity = jnp.clip(velocity, -self.clip_qvel, self.clip_qvel)
        return jnp.concatenate([position, velocity])

    def is_healthy(self, f):
        raise NotImplementedError

    def outcome(self, prev, f, action):
        x_velocity = (f["qpos"][0] - prev["qpos"][0]) / self.dt
        forward = self.forward_reward_weight * x_velocity
        healthy = self.is_healthy(f)
        survive = self.healthy_reward * healthy.astype(jnp.float32)
        ctrl = control_cost(self.ctrl_cost_weight, action)
        reward = forward + survive - ctrl
        terminated = jnp.logical_and(jnp.logical_not(healthy), self.terminate_when_unhealthy)
        info = {"reward_forward": forward, "reward_ctrl": -ctrl, "reward_survive": survive}
        return reward, terminated, info


class Hopper(_PlanarRunner):
    """Hopper-v5: obs 11 = qpos[1:] (5) + clip(qvel, +-10) (6); uniform reset noise."""

    xml_file, frame_skip = "hopper.xml", 4

    def __init__(self, forward_reward_weight=1.0, ctrl_cost_weight=1e-3, healthy_reward=1.0,
                 terminate_when_unhealthy=True, healthy_state_range=(-100.0, 100.0),
                 healthy_z_range=(0.7, float("inf")), healthy_angle_range=(-0.2, 0.2),
                 reset_noise_scale=5e-3, exclude_current_positions_from_observation=True):
        super().__init__(forward_reward_weight, ctrl_cost_weight, healthy_reward,
                         terminate_when_unhealthy, reset_noise_scale,
                         exclude_current_positions_from_observation)
        self.healthy_state_range = healthy_state_range
        self.healthy_z_range = healthy_z_range
        self.healthy_angle_range = healthy_angle_range

    def is_healthy(self, f):
        z, angle = f["qpos"][1], f["qpos"][2]
        state = jnp.concatenate([f["qpos"], f["qvel"]])[2:]  # state_vector()[2:]
        return (jnp.all(in_open_range(state, self.healthy_state_range))
                & in_open_range(z, self.healthy_z_range)
                & in_open_range(angle, self.healthy_angle_range))


class Walker2d(_PlanarRunner):
    """Walker2d-v5 (``walker2d_v5.xml``): obs 17 = qpos[1:] (8) + clip(qvel, +-10) (9)."""

    xml_file, frame_skip = "walker2d_v5.xml", 4

    def __init__(self, forward_reward_weight=1.0, ctrl_cost_weight=1e-3, healthy_reward=1.0,
                 terminate_when_unhealthy=True, healthy_z_range=(0.8, 2.0),
                 healthy_angle_range=(-1.0, 1.0), reset_noise_scale=5e-3,
                 exclude_current_positions_from_observation=True):
        super().__init__(forward_reward_weight, ctrl_cost_weight, healthy_reward,
                         terminate_when_unhealthy, reset_noise_scale,
                         exclude_current_positions_from_observation)
        self.healthy_z_range = healthy_z_range
        self.healthy_angle_range = healthy_angle_range

    def is_healthy(self, f):
        z, angle = f["qpos"][1], f["qpos"][2]
        return in_open_range(z, self.healthy_z_range) & in_open_range(
            angle, self.healthy_angle_range)


class HalfCheetah(_PlanarRunner):
    """HalfCheetah-v5: obs 17 = qpos[1:] (8) + qvel (9, unclipped); never terminates; qpos
    noise uniform, qvel noise ``scale * N(0, 1)``."""

    xml_file, frame_skip = "half_cheetah.xml", 5
    clip_qvel = None
    reward_terms = ("reward_forward", "reward_ctrl")

    def __init__(self, forward_reward_weight=1.0, ctrl_cost_weight=0.1, reset_noise_scale=0.1,
                 exclude_current_positions_from_observation=True):
        super().__init__(forward_reward_weight, ctrl_cost_weight, 0.0, False,
                         reset_noise_scale, exclude_current_positions_from_observation)

    def is_healthy(self, f):
        return jnp.bool_(True)

    def reset_noise(self, key):
        return self.reset_noise_uniform_normal(key)

    def outcome(self, prev, f, action):
        reward, terminated, info = super().outcome(prev, f, action)
        del info["reward_survive"]  # v5 HalfCheetah has no survive term
        return reward, terminated, info


class Ant(Task):
    """Ant-v5: obs 105 = qpos[2:] (13) + qvel (14) + clip(cfrc_ext[1:], -1, 1) (13 x 6).

    Forward reward on the x velocity of ``xpos[main_body]``; contact cost on the clipped
    ``cfrc_ext`` of every body; healthy iff the state is finite and ``z`` in the closed range.
    """

    xml_file, frame_skip = "ant.xml", 5
    fields = ("qpos", "qvel", "xpos", "cfrc_ext")
    reward_terms = ("reward_forward", "reward_ctrl", "reward_contact", "reward_survive")

    def __init__(self, forward_reward_weight=1.0, ctrl_cost_weight=0.5,
                 contact_cost_weight=5e-4, healthy_reward=1.0, main_body=1,
                 terminate_when_unhealthy=True, healthy_z_range=(0.2, 1.0),
                 contact_force_range=(-1.0, 1.0), reset_noise_scale=0.1,
                 exclude_current_positions_from_observation=True,
                 include_cfrc_ext_in_observation=True):
        super().__init__(reset_noise_scale)
        self.forward_reward_weight = forward_reward_weight
        self.ctrl_cost_weight = ctrl_cost_weight
        self.contact_cost_weight = contact_cost_weight
        self.healthy_reward = healthy_reward
        self.main_body = (main_body if isinstance(main_body, int) else
                          mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, main_body))
        self.terminate_when_unhealthy = terminate_when_unhealthy
        self.healthy_z_range = healthy_z_range
        self.contact_force_range = contact_force_range
        self.exclude_xy = bool(exclude_current_positions_from_observation)
        self.include_cfrc_ext = bool(include_cfrc_ext_in_observation)

    def reset_noise(self, key):
        return self.reset_noise_uniform_normal(key)

    @property
    def contact_force_size(self) -> int:
        return 6 * (self.model.nbody - 1) if self.include_cfrc_ext else 0  # clip(cfrc_ext[1:])

    def contact_forces(self, f):
        return jnp.clip(f["cfrc_ext"], *self.contact_force_range)  # [nbody, 6]

    def observation(self, f):
        parts = [f["qpos"][2:] if self.exclude_xy else f["qpos"], f["qvel"]]
        if self.include_cfrc_ext:
            parts.append(self.contact_forces(f)[1:].reshape(-1))
        return jnp.concatenate(parts)

    def outcome(self, prev, f, action):
        xy_velocity = (f["xpos"][self.main_body, :2] - prev["xpos"][self.main_body, :2]) / self.dt
        forward = self.forward_reward_weight * xy_velocity[0]
        state = jnp.concatenate([f["qpos"], f["qvel"]])
        low, high = self.healthy_z_range
        healthy = jnp.all(jnp.isfinite(state)) & (low <= state[2]) & (state[2] <= high)
        survive = self.healthy_reward * healthy.astype(jnp.float32)
        ctrl = control_cost(self.ctrl_cost_weight, action)
        contact = self.contact_cost_weight * jnp.sum(jnp.square(self.contact_forces(f)))
        reward = forward + survive - ctrl - contact
        terminated = jnp.logical_and(jnp.logical_not(healthy), self.terminate_when_unhealthy)
        info = {"reward_forward": forward, "reward_ctrl": -ctrl, "reward_contact": -contact,
                "reward_survive": survive}
        return reward, terminated, info


class Humanoid(Task):
    """Humanoid-v5: obs 348 = qpos[2:] (22) + qvel (23) + cinert[1:] (130) + cvel[1:] (78)
    + qfrc_actuator[6:] (17) + cfrc_ext[1:] (78). Forward reward on the x velocity of the mass
    centre (``body_mass``-weighted ``xipos``); contact cost ``min(w * sum(cfrc_ext**2), 10)``.
    """

    xml_file, frame_skip = "humanoid.xml", 5
    fields = ("qpos", "qvel", "xipos", "cinert", "cvel", "qfrc_actuator", "cfrc_ext")
    reward_terms = ("reward_survive", "reward_forward", "reward_ctrl", "reward_contact")
    mjx_solver = HUMANOID_MJX_SOLVER

    def __init__(self, forward_reward_weight=1.25, ctrl_cost_weight=0.1,
                 contact_cost_weight=5e-7, contact_cost_range=(-float("inf"), 10.0),
                 healthy_reward=5.0, terminate_when_unhealthy=True, healthy_z_range=(1.0, 2.0),
                 reset_noise_scale=1e-2, exclude_current_positions_from_observation=True,
                 include_cinert_in_observation=True, include_cvel_in_observation=True,
                 include_qfrc_actuator_in_observation=True,
                 include_cfrc_ext_in_observation=True):
        super().__init__(reset_noise_scale)
        self.forward_reward_weight = forward_reward_weight
        self.ctrl_cost_weight = ctrl_cost_weight
        self.contact_cost_weight = contact_cost_weight
        self.contact_cost_range = contact_cost_range
        self.healthy_reward = healthy_reward
        self.terminate_when_unhealthy = terminate_when_unhealthy
        self.healthy_z_range = healthy_z_range
        self.exclude_xy = bool(exclude_current_positions_from_observation)
        self.include = (include_cinert_in_observation, include_cvel_in_observation,
                        include_qfrc_actuator_in_observation, include_cfrc_ext_in_observation)
        mass = self.model.body_mass.astype("float32")  # [nbody]
        self.mass_weights = mass / mass.sum()

    @property
    def contact_force_size(self) -> int:
        return 6 * (self.model.nbody - 1) if self.include[3] else 0  # cfrc_ext[1:], last

    def mass_center_xy(self, f):
        return (self.mass_weights @ f["xipos"])[:2]  # v5 mass_center(): [2]

    def observation(self, f):
        parts = [f["qpos"][2:] if self.exclude_xy else f["qpos"], f["qvel"]]
        extras = (f["cinert"][1:], f["cvel"][1:], f["qfrc_actuator"][6:], f["cfrc_ext"][1:])
        parts += [x.reshape(-1) for x, keep in zip(extras, self.include) if keep]
        return jnp.concatenate(parts)

    def outcome(self, prev, f, action):
        xy_velocity = (self.mass_center_xy(f) - self.mass_center_xy(prev)) / self.dt
        forward = self.forward_reward_weight * xy_velocity[0]
        healthy = in_open_range(f["qpos"][2], self.healthy_z_range)
        survive = self.healthy_reward * healthy.astype(jnp.float32)
        ctrl = control_cost(self.ctrl_cost_weight, action)  # v5 uses data.ctrl == action
        contact = jnp.clip(self.contact_cost_weight * jnp.sum(jnp.square(f["cfrc_ext"])),
                           *self.contact_cost_range)
        reward = forward + survive - ctrl - contact
        terminated = jnp.logical_and(jnp.logical_not(healthy), self.terminate_when_unhealthy)
        info = {"reward_survive": survive, "reward_forward": forward, "reward_ctrl": -ctrl,
                "reward_contact": -contact}
        return reward, terminated, info
