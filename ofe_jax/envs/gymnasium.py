"""Score a policy in the official Gymnasium env (``gymnasium.make(name)``, CPU MuJoCo).

The reference check for a trained agent: the same observations, rewards, termination and time
limit as the published v5 benchmarks, independent of this package's environments.
"""

from __future__ import annotations

import os
import warnings
from typing import Callable

import numpy as np

from ofe_jax.errors import RenderError


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
      render_path: optional ``.mp4`` path: once every episode is scored, the first one is
        rendered (see :func:`record_episode`; a RenderError if it cannot be).
      **make_kwargs: passed to ``gymnasium.make`` (v5 options, ``max_episode_steps``).

    Returns:
      float64 array [episodes] of undiscounted episode returns (episodes end at termination or
      at the time limit).
    """
    import gymnasium

    env = gymnasium.make(name, **make_kwargs)
    returns = np.zeros(episodes, np.float64)
    try:
        for episode in range(episodes):
            returns[episode] = _episode(env, policy_fn, seed + episode)
    finally:
        env.close()
    if render_path is not None:
        record_episode(name, policy_fn, render_path, seed=seed, **make_kwargs)
    return returns


def _episode(env, policy_fn, seed: int, frames: list | None = None) -> float:
    """The return of one episode from ``reset(seed=seed)``; with ``frames``, each step's frame
    is appended (the first render, which creates the OpenGL context, is the caller's)."""
    low, high = env.action_space.low, env.action_space.high
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        action = np.clip(np.asarray(policy_fn(obs), np.float32), low, high)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = terminated or truncated
        if frames is not None:
            frames.append(env.render())
    return total


def record_episode(name: str, policy_fn: Callable[[np.ndarray], np.ndarray], path: str,
                   seed: int = 0, **make_kwargs) -> float:
    """Renders the episode from ``reset(seed=seed)`` into the ``.mp4`` at ``path`` (the same
    episode as :func:`score_in_gymnasium`'s first: MuJoCo and the policy are deterministic)
    and returns its return. Needs ``imageio`` with ffmpeg and an OpenGL library for the
    ``MUJOCO_GL`` backend (e.g. ``MUJOCO_GL=egl``); without one, a RenderError naming it. The
    video is written to a temporary file beside ``path`` and renamed when complete."""
    import gymnasium

    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RenderError(f"cannot write the video {path}: no directory {directory}")
    env = gymnasium.make(name, render_mode="rgb_array", **make_kwargs)
    try:
        env.reset(seed=seed)
        try:
            with warnings.catch_warnings():  # GLFW warns as it looks for a display
                warnings.simplefilter("ignore")
                frames = [env.render()]  # the first render creates the OpenGL context
        except _gl_failures() as e:
            raise gl_error(e) from e
        total = _episode(env, policy_fn, seed, frames)
        fps = env.metadata.get("render_fps", 30)
    finally:
        env.close()
    _write_video(path, frames, fps)
    return total


def _write_video(path: str, frames: list, fps: float) -> None:
    import imageio

    directory, base = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(base)
    partial = os.path.join(directory, f".{stem}.{os.getpid()}.partial{ext or '.mp4'}")
    try:
        with warnings.catch_warnings():  # JAX warns of any fork; ffmpeg is a fork+exec
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            imageio.mimsave(partial, frames, fps=fps)
        os.replace(partial, path)
    except OSError as e:
        raise RenderError(f"cannot write the video {path}: {e.strerror or e}") from e
    finally:
        if os.path.exists(partial):
            os.remove(partial)


# MUJOCO_GL backend -> (the library it loads, the Debian/Ubuntu package that has it).
GL_LIBRARIES = {"egl": ("EGL", "libegl1"), "osmesa": ("OSMesa", "libosmesa6"),
                "glfw": ("glfw", "libglfw3")}


def _gl_failures() -> tuple:
    """What creating an OpenGL context raises where its library is missing or fails: mujoco's
    FatalError, PyOpenGL's errors and the Import/Attribute/OS/RuntimeErrors of its loaders."""
    import mujoco

    try:
        from OpenGL.error import Error as GLError
    except ImportError:  # PyOpenGL comes with mujoco; without it, no such errors
        GLError = mujoco.FatalError
    return mujoco.FatalError, GLError, ImportError, AttributeError, OSError, RuntimeError


def gl_error(e: BaseException) -> RenderError:
    """One line: the OpenGL library the MUJOCO_GL backend needs and did not get, and the
    backends to try instead (those whose library is on this machine)."""
    import ctypes.util

    backend = os.environ.get("MUJOCO_GL", "").strip().lower()
    found = [b for b in ("egl", "osmesa") if b != backend and ctypes.util.find_library(
        GL_LIBRARIES[b][0])]
    if os.environ.get("DISPLAY") and backend not in ("glfw", ""):
        found.append("glfw")
    to_try = (" or ".join(f"MUJOCO_GL={b}" for b in found) if found else
              "apt install libegl1 (MUJOCO_GL=egl) or libosmesa6 (MUJOCO_GL=osmesa)")
    if backend in ("", "glfw"):
        what = ("MUJOCO_GL is not set, so MuJoCo renders with GLFW" if not backend else
                "MUJOCO_GL=glfw renders with GLFW")
        need = (", which needs a display (DISPLAY is not set)" if not os.environ.get("DISPLAY")
                else f", which failed: {_first_line(e)}")
        return RenderError(f"cannot render the video: {what}{need}; try {to_try}")
    if backend not in GL_LIBRARIES:
        return RenderError(f"cannot render the video: MUJOCO_GL={backend} is not a backend "
                           f"Gymnasium renders with (egl, osmesa or glfw); try {to_try}")
    library, package = GL_LIBRARIES[backend]
    state = ("is not installed" if not ctypes.util.find_library(library) else
             f"failed: {_first_line(e)}")
    return RenderError(f"cannot render the video: MUJOCO_GL={backend} needs the {library} "
                       f"library (apt install {package}), which {state}; try {to_try}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    line = text[0] if text else type(e).__name__
    return line if len(line) <= 100 else line[:97] + "..."


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
