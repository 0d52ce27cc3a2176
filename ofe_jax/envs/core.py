"""Functional environment interface: :class:`Env` (one env, no batch axis) and :class:`VecEnv`
(batching + action clipping + auto-reset + episode statistics, all wrappers in one place).

Everything is a pure function of explicit state, jit-, vmap- and scan-able on both backends::

    env = envs.make("Hopper-v5")
    state = env.reset(key)                  # EnvState
    state = env.step(state, action)         # action [action_size]

Semantics follow Gymnasium v5 + ``gymnasium.make``'s ``TimeLimit``: ``terminated`` is the task's
rule; ``truncated = steps >= episode_length`` (both can be true at once, as in Gymnasium); a
truncation is *not* a termination (bootstrap through it). ``Env.step`` does not clip the action
(Gymnasium's env passes it to ``data.ctrl``; MuJoCo clamps it to ``ctrlrange``); the reward's
control cost uses the action as given. :class:`VecEnv` clips to the bounds first.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from ofe_jax.envs.task import Task


@flax.struct.dataclass
class EnvState:
    """State of one env. ``physics``: backend pytree (``MujocoPhysics`` or ``mjx.Data``)."""

    physics: object
    obs: jax.Array  # [obs_size] float32
    reward: jax.Array  # [] float32, of the last step (0 after a reset)
    terminated: jax.Array  # [] bool
    truncated: jax.Array  # [] bool
    steps: jax.Array  # [] int32, steps since the reset
    info: dict[str, jax.Array]  # reward terms (Gymnasium info names), [] float32 each


class Env:
    """A Gymnasium v5 task on a physics backend. Built by :func:`ofe_jax.envs.make`."""

    def __init__(self, name: str, task: Task, backend, episode_length: int = 1000):
        self.name = name
        self.task = task
        self._physics = backend
        self.backend = backend.name  # "mjx" | "mujoco" (resolved)
        self.episode_length = int(episode_length)
        self.dt = task.dt
        model = task.model
        ctrlrange = model.actuator_ctrlrange.astype(np.float32)  # Gymnasium action space
        self.action_low, self.action_high = ctrlrange[:, 0].copy(), ctrlrange[:, 1].copy()
        self.action_size = int(model.nu)
        data = mujoco.MjData(model)
        shapes = {k: jax.ShapeDtypeStruct(getattr(data, k).shape, jnp.float32)
                  for k in task.fields}
        self.observation_size = int(jax.eval_shape(task.observation, shapes).shape[0])
        self.contact_force_size = task.contact_force_size  # trailing cfrc_ext entries of obs

    def __repr__(self):
        return f"Env({self.name!r}, backend={self.backend!r})"

    @property
    def physics_model(self) -> mujoco.MjModel:
        """The MuJoCo model the backend steps (with the backend's solver options applied)."""
        return self._physics.model

    def _state(self, physics) -> EnvState:
        fields = self._physics.fields(physics)
        zero = jnp.zeros((), jnp.float32)
        return EnvState(
            physics=physics, obs=self.task.observation(fields).astype(jnp.float32),
            reward=zero, terminated=jnp.bool_(False), truncated=jnp.bool_(False),
            steps=jnp.zeros((), jnp.int32), info={k: zero for k in self.task.reward_terms})

    def reset(self, key: jax.Array) -> EnvState:
        """Gymnasium ``reset``: initial state + v5 reset noise drawn with ``key``."""
        qpos, qvel = self.task.reset_noise(key)
        return self._state(self._physics.init(qpos, qvel))

    def reset_to(self, qpos, qvel) -> EnvState:
        """Start from a given physical state (qpos [nq], qvel [nv]), like Gymnasium's
        ``set_state``. On "mujoco", numpy float64 inputs are kept in float64 (exact parity)."""
        model = self.task.model
        if np.shape(qpos) != (model.nq,) or np.shape(qvel) != (model.nv,):
            raise ValueError(f"{self.name}: reset_to expects qpos [{model.nq}] and qvel "
                             f"[{model.nv}], got {np.shape(qpos)} and {np.shape(qvel)}")
        return self._state(self._physics.init(qpos, qvel))

    def step(self, state: EnvState, action: jax.Array) -> EnvState:
        """One env step: ``frame_skip`` substeps under ``ctrl = action`` [action_size]."""
        if jnp.shape(action) != (self.action_size,):
            raise ValueError(f"{self.name}: action must have shape ({self.action_size},), got "
                             f"{jnp.shape(action)} (batch with VecEnv or jax.vmap)")
        action = jnp.asarray(action, jnp.float32)
        physics = self._physics.step(state.physics, action)
        prev = self._physics.fields(state.physics)
        fields = self._physics.fields(physics)
        reward, terminated, info = self.task.outcome(prev, fields, action)
        steps = state.steps + 1
        return EnvState(
            physics=physics, obs=self.task.observation(fields).astype(jnp.float32),
            reward=jnp.asarray(reward, jnp.float32), terminated=jnp.asarray(terminated, bool),
            truncated=steps >= self.episode_length, steps=steps,
            info={k: jnp.asarray(v, jnp.float32) for k, v in info.items()})


AUTORESETS = ("auto", "cond", "select")
AUTORESET_MJX = "cond"  # the cheaper at 8 envs, level at 4096 (see VecEnv.__init__)


@flax.struct.dataclass
class VecEnvState:
    """Batched state; every field has a leading [num_envs] axis."""

    env_state: EnvState  # batched EnvState (already reset where the last step ended an episode)
    obs: jax.Array  # [N, obs] observation to act on next
    final_obs: jax.Array  # [N, obs] observation reached by the last step (before any reset)
    reward: jax.Array  # [N] float32 of the last step
    terminated: jax.Array  # [N] bool
    truncated: jax.Array  # [N] bool
    episode_return: jax.Array  # [N] float32, current episode so far (0 right after a reset)
    episode_length: jax.Array  # [N] int32
    completed_return: jax.Array  # [N] return of the episode that ended at the last step, else 0
    completed_length: jax.Array  # [N] int32, its length, else 0
    key: jax.Array  # [N] per-env PRNG keys for future resets


class VecEnv:
    """``num_envs`` copies of ``env``: batching, action clipping, auto-reset, episode stats.

    After a step that ends an episode (terminated or truncated), that env is reset with a fresh
    key; ``obs`` is the new episode's first observation and ``final_obs`` the true last one.
    """

    def __init__(self, env: Env, num_envs: int, autoreset: str = "auto"):
        """autoreset: "cond" resets inside a `lax.cond` taken when some env is done (one host
        round trip per step on XLA:GPU, the reset's work only when needed); "select" resets
        every env's next state at every step and keeps those of the done envs (no branch: the
        reset's work at every step); "auto": "cond" on the C MuJoCo backend (where a reset is a
        host callback), AUTORESET_MJX on mjx (benchmarks/results/autoreset_h100_plan.json)."""
        if autoreset not in AUTORESETS:
            raise ValueError(f"autoreset must be one of {AUTORESETS}, got {autoreset!r}")
        self.env = env
        self.num_envs = int(num_envs)
        self.autoreset = (autoreset if autoreset != "auto" else
                          AUTORESET_MJX if env.backend == "mjx" else "cond")
        self.observation_size, self.action_size = env.observation_size, env.action_size
        self.action_low, self.action_high = env.action_low, env.action_high

    def _reset_envs(self, keys: jax.Array) -> tuple[EnvState, jax.Array]:
        """[N] keys -> (reset EnvStates, [N] next keys); each key is split, never reused."""
        split = jax.vmap(jax.random.split)(keys)  # [N, 2]
        carry_keys, reset_keys = split[:, 0], split[:, 1]
        return jax.vmap(self.env.reset)(reset_keys), carry_keys

    def reset(self, key: jax.Array) -> VecEnvState:
        env_state, keys = self._reset_envs(jax.random.split(key, self.num_envs))
        n = self.num_envs
        zeros_f, zeros_i = jnp.zeros((n,), jnp.float32), jnp.zeros((n,), jnp.int32)
        return VecEnvState(
            env_state=env_state, obs=env_state.obs, final_obs=env_state.obs,
            reward=zeros_f, terminated=jnp.zeros((n,), bool), truncated=jnp.zeros((n,), bool),
            episode_return=zeros_f, episode_length=zeros_i, completed_return=zeros_f,
            completed_length=zeros_i, key=keys)

    def step(self, vs: VecEnvState, action: jax.Array) -> VecEnvState:
        """action [num_envs, action_size], clipped to [action_low, action_high]."""
        if jnp.shape(action) != (self.num_envs, self.action_size):
            raise ValueError(f"{self.env.name}: VecEnv action must have shape "
                             f"({self.num_envs}, {self.action_size}), got {jnp.shape(action)}")
        action = jnp.clip(action, self.action_low, self.action_high)
        stepped = jax.vmap(self.env.step)(vs.env_state, action)
        done = stepped.terminated | stepped.truncated  # [N]
        episode_return = vs.episode_return + stepped.reward
        episode_length = vs.episode_length + 1

        def reset_done(_):
            fresh, next_keys = self._reset_envs(vs.key)
            pick = lambda new, old: jnp.where(
                done.reshape(done.shape + (1,) * (new.ndim - 1)), new, old)
            return jax.tree.map(pick, fresh, stepped), _select_keys(done, next_keys, vs.key)

        if self.autoreset == "select":
            env_state, keys = reset_done(None)
        else:  # resets run only when some env is done (under an outer vmap both branches run)
            env_state, keys = jax.lax.cond(jnp.any(done), reset_done,
                                           lambda _: (stepped, vs.key), None)
        return VecEnvState(
            env_state=env_state, obs=env_state.obs, final_obs=stepped.obs,
            reward=stepped.reward, terminated=stepped.terminated, truncated=stepped.truncated,
            episode_return=jnp.where(done, 0.0, episode_return),
            episode_length=jnp.where(done, 0, episode_length),
            completed_return=jnp.where(done, episode_return, 0.0),
            completed_length=jnp.where(done, episode_length, 0), key=keys)


def scale_action(action, low, high):
    """Agent actions in [-1, 1] -> env actions in [low, high] (affine, per dimension)."""
    return low + 0.5 * (action + 1.0) * (high - low)


def _select_keys(done: jax.Array, new: jax.Array, old: jax.Array) -> jax.Array:
    """Per-env ``where(done, new, old)`` for raw uint32 [N, 2] or typed [N] PRNG keys."""
    typed = jnp.issubdtype(old.dtype, jax.dtypes.prng_key)
    new_data = jax.random.key_data(new) if typed else new
    old_data = jax.random.key_data(old) if typed else old
    mask = done.reshape(done.shape + (1,) * (old_data.ndim - 1))
    out = jnp.where(mask, new_data, old_data)
    return jax.random.wrap_key_data(out, impl=jax.random.key_impl(old)) if typed else out
