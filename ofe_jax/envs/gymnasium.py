"""Score a policy in the official Gymnasium env (``gymnasium.make(name)``, CPU MuJoCo).

The reference check for a trained agent: the same observations, rewards, termination and time
limit as the published v5 benchmarks, independent of this package's environments.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def score_in_gymnasium(name: str, policy_fn: Callable[[np.ndarray], np.ndarray],
                          episodes: int = 10, seed: int = 0, render_path: str | None = None,
                          **make_kwargs) -> np.ndarray:
    """Runs ``episodes`` full episodes of ``policy_fn`` in ``gymnasium.make(name)``.

    Args:
      name: Gymnasium id, e.g. ``"Hopper-v5"``.
      policy_fn: ``obs [obs_size] float64 -> action [action_size]`` (numpy in, array-like out;
        a jitted JAX function works). Actions are clipped to the action space, as
        :class:`ofe_jax.envs.VecEnv` does.
      episodes: number of episodes; episode ``i`` is reset with seed ``seed + i``.
      seed: base seed.
      render_path: optional ``.mp4`` path: the first episode is rendered (needs ``imageio``
        with ffmpeg and an OpenGL backend, e.g. ``MUJOCO_GL=egl``).
      **make_kwargs: passed to ``gymnasium.make`` (v5 options, ``max_episode_steps``).

    Returns:
      float64 array [episodes] of undiscounted episode returns (episodes end at termination or
      at the time limit).
    """
    import gymnasium

    render = render_path is not None
    env = gymnasium.make(name, render_mode="rgb_array" if render else None, **make_kwargs)
    low, high = env.action_space.low, env.action_space.high
    returns = np.zeros(episodes, np.float64)
    frames = []
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            done = False
            while not done:
                action = np.clip(np.asarray(policy_fn(obs), np.float32), low, high)
                obs, reward, terminated, truncated, _ = env.step(action)
                returns[episode] += float(reward)
                done = terminated or truncated
                if render and episode == 0:
                    frames.append(env.render())
    finally:
        env.close()
    if render:
        import imageio

        fps = env.metadata.get("render_fps", 30)
        imageio.mimsave(render_path, frames, fps=fps)
    return returns


def gymnasium_rollout(name: str, actions: np.ndarray, seed: int = 0, settle_steps: int = 0,
                      **make_kwargs) -> dict:
    """Reference trajectory: ``reset(seed=seed)`` then ``actions`` [T, action_size] in
    ``gymnasium.make(name)``, continuing after a termination (MuJoCo keeps integrating; no
    reset). For parity checks: start this package's env with ``env.reset_to(qpos0, qvel0)``.
    ``settle_steps`` zero-action steps run first (e.g. to let Ant land); ``qpos0``/``qvel0`` are
    the state after them (``obs0`` is then not comparable: the warm start is not reset).

    Returns a dict of numpy arrays: ``qpos0`` [nq] and ``qvel0`` [nv] float64 (the state after
    the reset), ``obs0`` [obs], ``obs`` [T, obs], ``reward`` [T], ``terminated`` [T] bool,
    ``truncated`` [T] bool, and the state after each step, ``qpos`` [T, nq], ``qvel`` [T, nv].
    """
    import gymnasium

    env = gymnasium.make(name, disable_env_checker=True,
                         max_episode_steps=max(len(actions), 1000), **make_kwargs)
    try:
        obs0, _ = env.reset(seed=seed)
        for _ in range(settle_steps):
            obs0 = env.step(np.zeros(env.action_space.shape, np.float32))[0]
        data = env.unwrapped.data
        out = {"qpos0": data.qpos.copy(), "qvel0": data.qvel.copy(), "obs0": obs0}
        steps, qpos, qvel = [], [], []
        for a in actions:
            steps.append(env.step(np.asarray(a, np.float32)))
            qpos.append(data.qpos.copy())
            qvel.append(data.qvel.copy())
    finally:
        env.close()
    out["obs"] = np.array([s[0] for s in steps])
    out["reward"] = np.array([s[1] for s in steps], np.float64)
    out["terminated"] = np.array([s[2] for s in steps], bool)
    out["truncated"] = np.array([s[3] for s in steps], bool)
    out["qpos"] = np.array(qpos).reshape(len(actions), -1)
    out["qvel"] = np.array(qvel).reshape(len(actions), -1)
    return out
