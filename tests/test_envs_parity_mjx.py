"""Parity of the "mjx" backend with ``gymnasium.make(name)`` and with the "mujoco" backend.

One compiled ``lax.scan`` per task (MJX compiles take 10-60 s on a 2-core CPU), cached per task
and shared by every check on it: each scan step first resets to a given (qpos, qvel) where told
to (MJX's forward, compiled once inside the scan), then steps. A rollout resets at step 0 only;
Ant-v5's one-step check resets at every step, to the states of a C MuJoCo rollout.

Why the tolerances are looser than for the "mujoco" backend: MJX runs in float32 (C MuJoCo in
float64), so the two differ by ~1e-7 relative after one step. That gap is float32 rounding:
Ant-v5 stepped by MJX in float64 stays within 3e-10 of Gymnasium over 60 full-range steps
(measured). Contact-rich locomotion is chaotic: the float32 difference grows ~10x every 10-15
steps under full-range random actions, fastest at foot impacts (after 60 such steps HalfCheetah
and Ant can differ by O(1)). The parity check therefore drives each task with random actions
scaled to a fraction of the range, for which the motion stays smooth, and compares over a
number of steps with a relative tolerance ``|ours - ref| <= tol * (1 + |ref|)`` (``PARAMS``:
scale, steps, observation and reward tolerances, measured with >= 4x headroom; the reward's
forward term divides position differences by dt, so it is ~1/dt more sensitive). Humanoid is
loosest: on mjx it uses Newton instead of the XML's PGS solver (the documented deviation), so
its contact forces (``cfrc_ext``, 78 of the 348 observation entries) differ by solver tolerance
from step one. Terminated flags must match.

Ant-v5 (measured, from Gymnasium's reset, no settling): MJX 3.17's plane-capsule collision
turns the friction pyramid at steep foot contacts (``ofe_jax/envs/mjx_contacts.py``); without
the backend's fix one env step from states of a C rollout is off by up to 1.4 in qvel. With it:
one step agrees to ~1e-5 in qvel; at 0.25 of the action range the observations stay within
2.3e-4 for 40 steps (they pass 1e-3 at step 49); at the full range within 2.5e-3 for 40 steps,
after which float32 drift shifts a foot impact (4e-2 at step 43).
"""

import os
import subprocess
import sys

import jax
import jax.extend  # noqa: F401 - jax.extend.core.(Closed)Jaxpr
import jax.numpy as jnp
import numpy as np
import pytest

from _parity_mjx import (ANT_FULL_RANGE, ANT_QVEL_TOL, ANT_STATES, CROSS_CONTACT_ENTRIES,
                         CROSS_STEPS, CROSS_TOL, PARAMS, SCAN_STEPS, SEED, compile_fast_jit,
                         mjx_task, random_actions, rel_err, rollout, scan_fn)
from ofe_jax import envs
from ofe_jax.envs.gymnasium import gymnasium_rollout


def check_gymnasium(name, ref, out, steps, obs_tol, reward_tol):
    obs, reward, terminated = out
    obs_err = rel_err(obs[:steps], ref["obs"][:steps])
    reward_err = rel_err(reward[:steps], ref["reward"][:steps])
    print(f"{name}: obs {obs_err:.1e} reward {reward_err:.1e} over {steps} steps")
    assert obs_err < obs_tol
    assert reward_err < reward_tol
    np.testing.assert_array_equal(terminated[:steps], ref["terminated"][:steps])


@pytest.fixture(scope="module", params=envs.NAMES)
def trajectories(request):
    name = request.param
    scale, steps, obs_tol, reward_tol = PARAMS[name]
    env, _ = mjx_task(name)
    actions = random_actions(env, scale, SCAN_STEPS)
    ref = gymnasium_rollout(name, actions, seed=SEED)
    obs0, mjx_out = rollout(name, ref, actions)
    cpu_env = envs.make(name, backend="mujoco")
    cpu_state = cpu_env.reset_to(ref["qpos0"], ref["qvel0"])
    cpu_out = [np.asarray(x) for x in scan_fn(cpu_env)(cpu_state, jnp.asarray(actions))[1]]
    return dict(name=name, env=env, ref=ref, obs0=obs0, mjx=mjx_out, cpu=cpu_out,
                steps=steps, obs_tol=obs_tol, reward_tol=reward_tol)


def test_mjx_matches_gymnasium(trajectories):
    t = trajectories
    assert t["env"].backend == "mjx"
    print(f"{t['name']}: obs0 {rel_err(t['obs0'], t['ref']['obs0']):.1e}")
    assert rel_err(t["obs0"], t["ref"]["obs0"]) < 1e-5
    check_gymnasium(t["name"], t["ref"], t["mjx"], t["steps"], t["obs_tol"], t["reward_tol"])


def test_mjx_agrees_with_mujoco_backend(trajectories):
    t = trajectories
    n = min(CROSS_STEPS, t["steps"])
    contact = CROSS_CONTACT_ENTRIES.get(t["name"], 0)
    (obs, cpu_obs), *others = zip(t["mjx"], t["cpu"])
    rest = obs.shape[1] - contact
    assert rel_err(obs[:n, :rest], cpu_obs[:n, :rest]) < CROSS_TOL
    if contact:
        assert rel_err(obs[:n, -contact:], cpu_obs[:n, -contact:]) < t["obs_tol"]
    for ours, cpu in others:  # reward, terminated
        if ours.dtype == bool:
            np.testing.assert_array_equal(ours[:n], cpu[:n])
        else:
            assert rel_err(ours[:n], cpu[:n]) < CROSS_TOL


def test_mjx_ant_full_action_range():
    """Ant-v5 from Gymnasium's reset at the full action range (reuses the Ant scan's compile)."""
    scale, steps, obs_tol, reward_tol = ANT_FULL_RANGE
    env, _ = mjx_task("Ant-v5")
    actions = random_actions(env, scale, SCAN_STEPS)
    ref = gymnasium_rollout("Ant-v5", actions, seed=SEED)
    check_gymnasium("Ant-v5 (full range)", ref, rollout("Ant-v5", ref, actions)[1], steps,
                    obs_tol, reward_tol)


def test_mjx_ant_one_step_from_rollout_states():
    """One env step from each of ANT_STATES states of a C MuJoCo (Gymnasium) rollout, on mjx
    (the Ant scan, resetting at every step) and on "mujoco" from the same (qpos, qvel): qvel
    must agree. Foot contacts at every capsule angle occur along the rollout (MJX 3.17's own
    plane-capsule frame fails this by O(1); see ofe_jax/envs/mjx_contacts.py)."""
    env, run = mjx_task("Ant-v5")
    actions = random_actions(env, 1.0, 2 * ANT_STATES, seed=1)
    ref = gymnasium_rollout("Ant-v5", actions, seed=SEED)
    qpos = np.concatenate([ref["qpos0"][None], ref["qpos"][:-1]])[::2]  # state before each step
    qvel = np.concatenate([ref["qvel0"][None], ref["qvel"][:-1]])[::2]
    actions = actions[::2]
    ours = np.asarray(run(jnp.asarray(qpos, jnp.float32), jnp.asarray(qvel, jnp.float32),
                          np.ones(ANT_STATES, bool), jnp.asarray(actions))[4])
    cpu_env = envs.make("Ant-v5", backend="mujoco")
    cpu = np.array([np.asarray(cpu_env.step(cpu_env.reset_to(q, v), a).physics.fields["qvel"])
                    for q, v, a in zip(qpos, qvel, actions)])
    err = np.abs(ours - cpu).max(axis=1)  # [ANT_STATES]
    print(f"Ant-v5 one step from {len(err)} states: max |dqvel| {err.max():.1e}")
    assert len(err) == ANT_STATES and err.max() < ANT_QVEL_TOL


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
    vs, (rewards, completed) = compile_fast_jit(jax.vmap(run_chunk))(keys)
    assert rewards.shape == (2, 25, 2) and vs.obs.shape == (2, 2, 4)
    assert (np.asarray(completed) > 0).any()
    assert np.isfinite(np.asarray(vs.obs)).all()


def _dot_precisions(jaxpr) -> list:
    """The `precision` of every dot_general in a jaxpr, those of nested jaxprs included."""
    out = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            out.append(eqn.params["precision"])
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    out += _dot_precisions(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    out += _dot_precisions(sub)
    return out


def test_mjx_physics_traced_at_highest_matmul_precision():
    """MJX's step and reset are traced at matmul precision HIGHEST (never TF32 on GPUs:
    envs/backends.py PHYSICS_MATMUL_PRECISION): every dot_general of the traced Hopper-v5 backend
    step and forward says so. Tracing only, no compile."""
    task = envs.TASKS["Hopper-v5"]()
    physics = envs.backends.MjxBackend(task.model, task.frame_skip, task.fields)
    qpos, qvel = jnp.zeros(task.model.nq), jnp.zeros(task.model.nv)
    data = jax.eval_shape(physics.init, qpos, qvel)
    highest = (jax.lax.Precision.HIGHEST, jax.lax.Precision.HIGHEST)
    for fn, args in ((physics.init, (qpos, qvel)),
                     (physics.step, (data, jnp.zeros(task.model.nu)))):
        precisions = _dot_precisions(jax.make_jaxpr(fn)(*args).jaxpr)
        assert len(precisions) > 10 and set(precisions) == {highest}, set(precisions)


def test_the_parity_checks_import_without_pytest():
    """The GPU machine has no pytest: benchmarks/gpu_suite.py's parity step imports
    tests/_parity_mjx.py, which must not need it (pytest blocked in a fresh interpreter)."""
    code = ("import sys; sys.modules['pytest'] = None; sys.path.insert(0, 'tests'); "
            "import _parity_mjx; print(len(_parity_mjx.PARAMS))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(len(envs.NAMES))]
