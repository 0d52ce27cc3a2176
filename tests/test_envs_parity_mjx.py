"""Parity of the "mjx" backend with ``gymnasium.make(name)`` and with the "mujoco" backend.

One compiled ``lax.scan`` over the actions per task (MJX compiles take 10-60 s on a 2-core CPU),
shared by a module-scoped fixture between the Gymnasium check and the cross-backend check.

Why the tolerances are looser than for the "mujoco" backend: MJX runs in float32 (C MuJoCo in
float64) and its constraint solver stops on its own criteria, so the two differ by ~1e-7
relative after one step (measured: 2e-7 even with MJX in float64). Contact-rich locomotion is
chaotic: that difference grows ~10x every 10-15 steps under full-range random actions (after 60
such steps HalfCheetah and Ant differ by O(1)). The parity check therefore drives each task
with random actions scaled to a fraction of the range (``ACTION_SCALE``), for which the
motion stays smooth, over 50 steps, and compares with a relative tolerance
``|ours - ref| <= OBS_TOL * (1 + |ref|)`` per task, measured with ~10x headroom; rewards use
the same form with ``REWARD_TOL`` (the forward term divides position differences by dt, so
it is ~1/dt more sensitive). Humanoid is loosest: on mjx it uses Newton instead of the XML's
PGS solver (the documented deviation), so its contact forces (``cfrc_ext``, 78 of the 348
observation entries) differ by solver tolerance from step one. Terminated flags must match.

Known limitation (Ant-v5 on mjx, measured): at a foot's contact onset/release the two
simulators can resolve the event one substep apart (RK4 + contact margin), and the
trajectories then jump apart by O(0.1) in qvel within one step (at the landing after reset,
step 3, and again ~7 steps after the robot has settled). Ant is therefore checked from a
settled state (``SETTLE_STEPS`` zero-action steps in Gymnasium first) over the horizon before
such an event; the full 50-step comparison is kept as an ``xfail`` that documents the gap.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ofe_jax import envs
from ofe_jax.envs.gymnasium import gymnasium_rollout

NUM_STEPS = 50
CROSS_STEPS = 10  # horizon of the mjx-vs-mujoco agreement check
CROSS_TOL = 1e-3
SEED = 3
ANT_SETTLE_STEPS, ANT_STRICT_STEPS = 20, 6
# name: (action scale in units of the action range, obs tolerance, reward tolerance)
PARAMS = {
    "Hopper-v5": (1.0, 1e-3, 1e-2),
    "Walker2d-v5": (1.0, 1e-3, 1e-2),
    "HalfCheetah-v5": (0.25, 1e-3, 1e-2),
    "Ant-v5": (0.25, 1e-3, 1e-2),
    "Humanoid-v5": (0.25, 1e-2, 1e-1),
    "InvertedPendulum-v5": (1.0, 1e-3, 1e-2),
    "InvertedDoublePendulum-v5": (0.25, 1e-3, 1e-2),
}


def scan_fn(env):
    def body(s, a):
        s = env.step(s, a)
        return s, (s.obs, s.reward, s.terminated)

    return jax.jit(lambda s, a: jax.lax.scan(body, s, a))


def rel_err(ours, ref):
    return float(np.max(np.abs(np.asarray(ours, np.float64) - ref) / (1.0 + np.abs(ref))))


@pytest.fixture(scope="module", params=envs.NAMES)
def trajectories(request):
    name = request.param
    scale, obs_tol, reward_tol = PARAMS[name]
    env = envs.make(name, backend="mjx")
    rng = np.random.default_rng(0)
    actions = (scale * rng.uniform(env.action_low, env.action_high,
                                   size=(NUM_STEPS, env.action_size))).astype(np.float32)
    settle = ANT_SETTLE_STEPS if name == "Ant-v5" else 0
    strict = ANT_STRICT_STEPS if name == "Ant-v5" else NUM_STEPS
    ref = gymnasium_rollout(name, actions, seed=SEED, settle_steps=settle)
    state = env.reset_to(ref["qpos0"], ref["qvel0"])
    mjx_out = [np.asarray(x) for x in scan_fn(env)(state, jnp.asarray(actions))[1]]
    cpu_env = envs.make(name, backend="mujoco")
    cpu_state = cpu_env.reset_to(ref["qpos0"], ref["qvel0"])
    cpu_out = [np.asarray(x) for x in scan_fn(cpu_env)(cpu_state, jnp.asarray(actions))[1]]
    return dict(name=name, env=env, ref=ref, state=state, mjx=mjx_out, cpu=cpu_out,
                obs_tol=obs_tol, reward_tol=reward_tol, settle=settle, strict=strict)


def test_mjx_matches_gymnasium(trajectories):
    t = trajectories
    ref, (obs, reward, terminated) = t["ref"], t["mjx"]
    n = t["strict"]
    assert t["env"].backend == "mjx"
    obs_err, reward_err = rel_err(obs[:n], ref["obs"][:n]), rel_err(reward[:n], ref["reward"][:n])
    print(f"{t['name']}: obs0 {rel_err(t['state'].obs, ref['obs0']):.1e} "
          f"obs {obs_err:.1e} reward {reward_err:.1e} over {n} steps")
    if not t["settle"]:  # after settling, Gymnasium's obs0 has contact forces; reset_to none
        assert rel_err(t["state"].obs, ref["obs0"]) < 1e-5
    assert obs_err < t["obs_tol"]
    assert reward_err < t["reward_tol"]
    np.testing.assert_array_equal(terminated[:n], ref["terminated"][:n])


@pytest.mark.xfail(reason="Ant-v5 on mjx: contact events resolved a substep apart "
                          "(see module docstring)", strict=False)
def test_mjx_ant_full_horizon(trajectories):
    t = trajectories
    if t["name"] != "Ant-v5":
        pytest.skip("Ant-v5 only (the other tasks are checked over the full horizon)")
    assert rel_err(t["mjx"][0], t["ref"]["obs"]) < t["obs_tol"]


def test_mjx_agrees_with_mujoco_backend(trajectories):
    t = trajectories
    n = min(CROSS_STEPS, t["strict"])
    for ours, cpu in zip(t["mjx"], t["cpu"]):
        if ours.dtype == bool:
            np.testing.assert_array_equal(ours[:n], cpu[:n])
        else:
            assert rel_err(ours[:n], cpu[:n]) < CROSS_TOL


def test_mjx_vecenv_vmap_over_seeds_in_scan():
    """The training-loop shape, jit(vmap(run_chunk)) with lax.scan, on the mjx backend."""
    env = envs.make("InvertedPendulum-v5", backend="mjx")
    venv = envs.VecEnv(env, 2)

    def run_chunk(key):
        reset_key, action_key = jax.random.split(key)
        vs = venv.reset(reset_key)

        def body(vs, step_key):
            action = jax.random.uniform(step_key, (2, 1), minval=-3.0, maxval=3.0)
            vs = venv.step(vs, action)
            return vs, (vs.reward, vs.completed_length)

        return jax.lax.scan(body, vs, jax.random.split(action_key, 25))

    keys = jax.random.split(jax.random.key(7), 2)
    vs, (rewards, completed) = jax.jit(jax.vmap(run_chunk))(keys)
    assert rewards.shape == (2, 25, 2) and vs.obs.shape == (2, 2, 4)
    assert (np.asarray(completed) > 0).any()
    assert np.isfinite(np.asarray(vs.obs)).all()
