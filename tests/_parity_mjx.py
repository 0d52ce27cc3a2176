"""The mjx parity checks' constants, compiled rollouts and metric, without pytest: the tests
(tests/test_envs_parity_mjx.py, whose docstring says how the tolerances were chosen) and the
benchmarks that rerun the checks on a machine without pytest (benchmarks/gpu_suite.py's
correctness part, benchmarks/mjx_options.py) share them."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from _batches import fast_jit
from ofe_jax import envs

NUM_STEPS = 50  # steps checked (at most)
SCAN_STEPS = 64  # the compiled scan's length: rollouts run this long (checked up to NUM_STEPS)
CROSS_STEPS = 10  # horizon of the mjx-vs-mujoco agreement check
CROSS_TOL = 1e-3
# Humanoid-v5's contact forces (cfrc_ext, the last 78 observation entries) come from Newton on
# mjx and from the XML's PGS on "mujoco": they are held to the task's own tolerance (PARAMS),
# as against Gymnasium (measured over the 10 steps, at the first foot contact, step 10: 8.7e-4
# with XLA's defaults, 1.45e-3 with this file's compile options, both against 1e-3; the other
# entries within 5.4e-6 with those options; benchmarks/results/test_compile_cuts_cpu.json).
CROSS_CONTACT_ENTRIES = {"Humanoid-v5": 78}
SEED = 3
# name: (action scale in units of the action range, steps checked, obs tol, reward tol)
PARAMS = {
    "Hopper-v5": (1.0, NUM_STEPS, 1e-3, 1e-2),
    "Walker2d-v5": (1.0, NUM_STEPS, 1e-3, 1e-2),
    "HalfCheetah-v5": (0.25, NUM_STEPS, 1e-3, 1e-2),
    "Ant-v5": (0.25, 40, 1e-3, 1e-2),
    "Humanoid-v5": (0.25, NUM_STEPS, 1e-2, 1e-1),
    "InvertedPendulum-v5": (1.0, NUM_STEPS, 1e-3, 1e-2),
    "InvertedDoublePendulum-v5": (0.25, NUM_STEPS, 1e-3, 1e-2),
}
ANT_FULL_RANGE = (1.0, 40, 1e-2, 1e-1)  # the same check at the full action range
# One step from each of ANT_STATES states (every 2nd of a full-range Gymnasium rollout).
ANT_STATES, ANT_QVEL_TOL = SCAN_STEPS, 1e-3
# Compiling the MJX scans is most of this file's time on CPU. With XLA's backend optimisations
# off and its two while-loop hoisting passes skipped, Humanoid-v5's scan compiled in 41.7 s
# instead of 63.5 s and ran its 64 steps in 2.5 s instead of 0.7 s (2-core Xeon, jax 0.10.2);
# results differ by float rounding, inside the tolerances. Not for Ant-v5: its full-range check
# ends where float32 drift starts to shift a foot impact (step 43, see above), so its error at
# step 40 depends on rounding (measured 1.5e-3 to 5.7e-3 with these options and each alone,
# against 1e-2): Ant keeps XLA's defaults (2.5e-3). CPU only: the GPU suite
# (benchmarks/gpu_suite.py) runs these scans with XLA's defaults.
SKIP_PASSES = {
    "xla_disable_hlo_passes": "while-loop-invariant-code-motion,while-loop-constant-sinking"}


def compile_fast_jit(fun):
    """fast_jit (tests/_batches.py: CPU only) with SKIP_PASSES."""
    return fast_jit(fun, SKIP_PASSES)


def scan_fn(env):
    """jit((state, actions [T, A]) -> (obs, reward, terminated) [T]): a rollout from `state`."""
    def body(s, a):
        s = env.step(s, a)
        return s, (s.obs, s.reward, s.terminated)

    return jax.jit(lambda s, a: jax.lax.scan(body, s, a))


def reset_scan_fn(env, jit=compile_fast_jit):
    """jit((qpos [T, nq], qvel [T, nv], reset [T], actions [T, A]) -> (obs before the step,
    obs, reward, terminated, qvel) [T]): at step t, first reset to (qpos[t], qvel[t]) where
    reset[t], then step with actions[t]. reset[0] must be True."""
    def body(s, inputs):
        qpos, qvel, reset, a = inputs
        s = jax.lax.cond(reset, lambda: env.reset_to(qpos, qvel), lambda: s)
        before = s.obs
        s = env.step(s, a)
        return s, (before, s.obs, s.reward, s.terminated, s.physics.qvel)

    def run(qpos, qvel, reset, actions):
        init = jax.eval_shape(env.reset_to, qpos[0], qvel[0])  # overwritten at step 0
        s = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), init)
        return jax.lax.scan(body, s, (qpos, qvel, reset, actions))[1]

    return jit(run)


def make_task(name, **options):
    """(mjx env built with backend `options`, its jitted reset scan)."""
    env = envs.make(name, backend="mjx", **options)
    return env, reset_scan_fn(env, jax.jit if name == "Ant-v5" else compile_fast_jit)


@functools.cache
def mjx_task(name):
    """make_task(name), built once per task: every check on a task shares a compile."""
    return make_task(name)


def rollout(name, ref, actions, task=None):
    """The mjx rollout from Gymnasium's reset state: (obs0, [obs, reward, terminated]) numpy.
    task: (env, reset scan) of make_task (default: mjx_task(name), the exact physics)."""
    env, run = task or mjx_task(name)
    reset = np.zeros(SCAN_STEPS, bool)
    reset[0] = True
    qpos = np.broadcast_to(ref["qpos0"].astype(np.float32), (SCAN_STEPS, env.task.model.nq))
    qvel = np.broadcast_to(ref["qvel0"].astype(np.float32), (SCAN_STEPS, env.task.model.nv))
    out = [np.asarray(x) for x in run(qpos, qvel, reset, jnp.asarray(actions))]
    return out[0][0], out[1:4]


def random_actions(env, scale, num_steps, seed=0):
    rng = np.random.default_rng(seed)
    return (scale * rng.uniform(env.action_low, env.action_high,
                                size=(num_steps, env.action_size))).astype(np.float32)


def rel_err(ours, ref):
    return float(np.max(np.abs(np.asarray(ours, np.float64) - ref) / (1.0 + np.abs(ref))))
