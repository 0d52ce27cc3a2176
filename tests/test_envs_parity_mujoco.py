"""Parity of the "mujoco" backend with ``gymnasium.make(name)`` for every v5 task.

From Gymnasium's own reset state (``reset(seed=...)`` then ``env.reset_to(qpos, qvel)`` with the
float64 state), the same fixed random action sequence (60 steps, continuing after a termination
exactly as MuJoCo keeps integrating) must give the same observations, rewards and terminated
flags. The state travels between steps bit-exactly (float64 bits), so the only differences are
the float32 casts of what the tasks read:

* observations: ``rtol=atol=1e-5`` (float32 has ~6e-8 relative rounding; the observation is
  a cast, and the reward terms are float32 arithmetic on casts, so 1e-5 is ~100x headroom and
  still catches any one-substep or ordering mistake, which shows up at 1e-3 or more).
* rewards: ``atol=1e-4, rtol=1e-5``: the forward term is ``(x_t - x_{t-1}) / dt`` on float32
  positions, which amplifies the ~1e-7 rounding of x by ``1/dt`` (up to 1/0.008 = 125).
* terminated: identical.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ofe_jax import envs
from ofe_jax.config.choices import ENV_SIZES
from ofe_jax.envs.gymnasium import gymnasium_rollout

NUM_STEPS = 60
SEED = 3


def random_actions(env, num_steps, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(env.action_low, env.action_high,
                       size=(num_steps, env.action_size)).astype(np.float32)


def rollout(env, state, actions):
    """One jitted lax.scan over the actions -> (obs [T, obs], reward [T], terminated [T])."""

    def body(s, a):
        s = env.step(s, a)
        return s, (s.obs, s.reward, s.terminated)

    _, out = jax.jit(lambda s, a: jax.lax.scan(body, s, a))(state, jnp.asarray(actions))
    return tuple(np.asarray(x) for x in out)


@pytest.mark.parametrize("name", envs.NAMES)
def test_mujoco_backend_matches_gymnasium(name):
    env = envs.make(name, backend="mujoco")
    actions = random_actions(env, NUM_STEPS)
    ref = gymnasium_rollout(name, actions, seed=SEED)
    state = env.reset_to(ref["qpos0"], ref["qvel0"])
    assert state.obs.shape == (env.observation_size,) == ref["obs0"].shape
    np.testing.assert_allclose(state.obs, ref["obs0"], rtol=1e-5, atol=1e-5)

    obs, reward, terminated = rollout(env, state, actions)
    np.testing.assert_allclose(obs, ref["obs"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(reward, ref["reward"], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(terminated, ref["terminated"])


def test_the_config_size_table_lists_every_env():
    assert tuple(ENV_SIZES) == envs.NAMES  # the sizes validation reads (the test below: values)


@pytest.mark.parametrize("name,obs_size,action_size",
                         [(name, *sizes) for name, sizes in ENV_SIZES.items()])
def test_spaces_and_dt_match_gymnasium(name, obs_size, action_size):
    import gymnasium

    env = envs.make(name, backend="mujoco")
    ref = gymnasium.make(name)
    assert (env.observation_size, env.action_size) == (obs_size, action_size)
    assert ref.observation_space.shape == (obs_size,)
    np.testing.assert_array_equal(env.action_low, ref.action_space.low)
    np.testing.assert_array_equal(env.action_high, ref.action_space.high)
    assert env.action_low.dtype == np.float32
    assert env.dt == pytest.approx(ref.unwrapped.dt)
    assert env.episode_length == ref.spec.max_episode_steps == 1000
    assert env.backend == "mujoco"
