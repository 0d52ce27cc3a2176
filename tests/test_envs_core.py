"""Interface, wrappers, reset distribution and bad input, on the cheap "mujoco" backend; the MJX
model options of the config (env.mjx.*), checked on the models without compiling MJX.

(The mjx backend's wrappers under vmap + scan are checked in test_envs_parity_mjx.py.)
"""

import gymnasium
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from ofe_jax import envs
from ofe_jax.config import choices, defaults, validation
from ofe_jax.envs.gymnasium import score_in_gymnasium
from ofe_jax.errors import ConfigError
from ofe_jax.training import plan as training_plan


def take(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


# ---- bad input ------------------------------------------------------------------------------
def test_unknown_name_lists_names():
    with pytest.raises(ValueError, match="Hopper-v5") as err:
        envs.make("Hoper-v5")
    for name in envs.NAMES:
        assert name in str(err.value)


def test_unknown_backend_names_choices():
    with pytest.raises(ValueError, match="mujoco") as err:
        envs.make("Hopper-v5", backend="physx")
    assert "mjx" in str(err.value) and "auto" in str(err.value)


def test_warp_without_warp_installed_is_value_error():
    pytest.importorskip("mujoco")
    try:
        import warp  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="warp"):
            envs.make("Hopper-v5", backend="warp")


def test_unknown_option_is_value_error():
    with pytest.raises(ValueError, match="ctrl_cost_weight"):
        envs.make("Hopper-v5", backend="mujoco", ctrl_cost_wieght=0.1)


def test_wrong_action_shape_is_clear_error():
    env = envs.make("Hopper-v5", backend="mujoco")
    state = env.reset(jax.random.key(0))
    with pytest.raises(ValueError, match=r"action must have shape \(3,\)"):
        jax.jit(env.step)(state, jnp.zeros((4,)))
    venv = envs.VecEnv(env, 2)
    vs = venv.reset(jax.random.key(0))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        venv.step(vs, jnp.zeros((3,)))


def test_auto_backend_resolves_on_cpu():
    env = envs.make("InvertedPendulum-v5")
    assert env.backend == ("mujoco" if jax.default_backend() == "cpu" else "mjx")
    assert set(envs.NAMES) == {"Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5",
                               "Humanoid-v5", "InvertedPendulum-v5",
                               "InvertedDoublePendulum-v5"}


# ---- reset distribution -----------------------------------------------------------------------
def _our_resets(name, num):
    env = envs.make(name, backend="mujoco")
    states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.key(1), num))
    fields = states.physics.fields
    return (np.asarray(fields["qpos"]) - env.task.init_qpos,
            np.asarray(fields["qvel"]) - env.task.init_qvel)


def _gym_resets(name, num):
    env = gymnasium.make(name).unwrapped
    qpos, qvel = [], []
    for seed in range(num):
        env.reset(seed=seed)
        qpos.append(env.data.qpos - env.init_qpos)
        qvel.append(env.data.qvel - env.init_qvel)
    return np.array(qpos), np.array(qvel)


@pytest.mark.parametrize("name,scale,qvel_normal", [
    ("Hopper-v5", 5e-3, False),  # v5: qpos, qvel ~ U(-s, s)
    ("HalfCheetah-v5", 0.1, True),  # v5: qpos ~ U(-s, s), qvel ~ s * N(0, 1)
])
def test_reset_noise_matches_gymnasium(name, scale, qvel_normal):
    num = 4000
    ours, gyms = _our_resets(name, num), _gym_resets(name, 1000)
    # Uniform qpos noise: mean 0, std s/sqrt(3), bounded by s.
    for noise in (ours[0], gyms[0]):
        assert np.abs(noise).max() <= scale * (1 + 1e-5)
        np.testing.assert_allclose(noise.mean(0), 0.0, atol=5 * scale / np.sqrt(3 * 1000))
        np.testing.assert_allclose(noise.std(0), scale / np.sqrt(3), rtol=0.1)
    # qvel: uniform (|x| <= s) or normal (std s; ~31.7% beyond s).
    for noise in (ours[1], gyms[1]):
        if qvel_normal:
            np.testing.assert_allclose(noise.std(0), scale, rtol=0.1)
            np.testing.assert_allclose((np.abs(noise) > scale).mean(), 0.317, atol=0.03)
        else:
            assert np.abs(noise).max() <= scale * (1 + 1e-5)
            np.testing.assert_allclose(noise.std(0), scale / np.sqrt(3), rtol=0.1)
    # Our statistics agree with Gymnasium's own samples (std within sampling error).
    np.testing.assert_allclose(ours[0].std(0), gyms[0].std(0), rtol=0.15)
    np.testing.assert_allclose(ours[1].std(0), gyms[1].std(0), rtol=0.15)


def test_reset_keys_differ_and_repeat():
    env = envs.make("Hopper-v5", backend="mujoco")
    a, b = env.reset(jax.random.key(0)), env.reset(jax.random.key(0))
    c = env.reset(jax.random.key(1))
    np.testing.assert_array_equal(a.obs, b.obs)
    assert not np.allclose(a.obs, c.obs)
    assert not a.terminated and not a.truncated and a.steps == 0 and a.reward == 0
    assert set(a.info) == {"reward_forward", "reward_ctrl", "reward_survive"}


# ---- auto-reset and episode statistics (hand-checked on InvertedPendulum) -------------------
def test_auto_reset_at_termination():
    env = envs.make("InvertedPendulum-v5", backend="mujoco")
    venv = envs.VecEnv(env, 2)
    step = jax.jit(venv.step)
    vs = venv.reset(jax.random.key(0))
    push = jnp.array([[3.0], [-3.0]])  # full force: both poles fall within a few steps
    lengths = np.zeros(2, int)
    for t in range(1, 30):
        expected_final = jax.vmap(env.step)(vs.env_state, push)  # what the step reaches
        prev_return = np.asarray(vs.episode_return)
        vs = step(vs, push * 10.0)  # out of bounds: VecEnv clips to [-3, 3]
        np.testing.assert_allclose(vs.final_obs, expected_final.obs, rtol=1e-6, atol=1e-7)
        for i in range(2):
            if vs.terminated[i]:
                # Reward 1 per step while upright, 0 at the failing step (v5).
                assert vs.reward[i] == 0.0
                assert vs.completed_return[i] == prev_return[i] == t - 1 and lengths[i] == 0
                assert vs.completed_length[i] == t
                assert vs.episode_return[i] == 0 and vs.episode_length[i] == 0
                assert abs(float(vs.final_obs[i, 1])) > 0.2  # pole past the limit
                assert np.abs(vs.obs[i]).max() <= 0.01 + 1e-6  # fresh reset noise
                assert int(vs.env_state.steps[i]) == 0
                lengths[i] = t
            elif not lengths[i]:
                assert vs.episode_return[i] == t and vs.episode_length[i] == t
                assert vs.completed_return[i] == 0 and vs.completed_length[i] == 0
                np.testing.assert_array_equal(vs.obs[i], vs.final_obs[i])
        if lengths.all():
            break
    assert lengths.all(), "the pushed poles should have fallen"


def test_auto_reset_at_truncation():
    env = envs.make("InvertedPendulum-v5", backend="mujoco", episode_length=5)
    venv = envs.VecEnv(env, 3)
    step = jax.jit(venv.step)
    vs = venv.reset(jax.random.key(2))
    zero = jnp.zeros((3, 1))
    for t in range(1, 6):
        before = vs
        vs = step(vs, zero)
    assert np.asarray(vs.truncated).all() and not np.asarray(vs.terminated).any()
    np.testing.assert_array_equal(vs.completed_return, 5.0)
    np.testing.assert_array_equal(vs.completed_length, 5)
    np.testing.assert_array_equal(vs.episode_return, 0.0)
    np.testing.assert_array_equal(vs.env_state.steps, 0)
    final = jax.vmap(env.step)(before.env_state, zero)
    np.testing.assert_allclose(vs.final_obs, final.obs, rtol=1e-6, atol=1e-7)
    assert not np.allclose(vs.obs, vs.final_obs)
    # Next step continues the new episodes.
    vs = step(vs, zero)
    np.testing.assert_array_equal(vs.episode_length, 1)
    np.testing.assert_array_equal(vs.completed_length, 0)


# ---- batching, tracing, vmap over seeds ---------------------------------------------------------
def test_no_recompilation_across_steps():
    env = envs.make("Hopper-v5", backend="mujoco")
    venv = envs.VecEnv(env, 4)
    traces = []

    def counted_step(vs, action):
        traces.append(1)
        return venv.step(vs, action)

    step = jax.jit(counted_step)
    vs = venv.reset(jax.random.key(0))
    for i in range(5):
        vs = step(vs, jnp.full((4, 3), 0.1 * i))
    assert len(traces) == 1


def test_vecenv_equals_envs_one_by_one():
    num_envs = 40  # >= THREAD_MIN_BATCH: exercises the host thread pool
    env = envs.make("Hopper-v5", backend="mujoco")
    venv = envs.VecEnv(env, num_envs)
    vs = venv.reset(jax.random.key(3))
    actions = jax.random.uniform(jax.random.key(4), (num_envs, 3), minval=-1.0, maxval=1.0)
    batched = jax.jit(venv.step)(vs, actions)
    single_step = jax.jit(env.step)
    for i in (0, 17, 39):
        one = single_step(take(vs.env_state, i), actions[i])
        np.testing.assert_array_equal(batched.final_obs[i], one.obs)
        np.testing.assert_array_equal(batched.reward[i], one.reward)
        np.testing.assert_array_equal(batched.env_state.physics.state[i], one.physics.state)


def run_chunk_fn(venv, num_steps):
    """A training-loop-shaped program: reset, then lax.scan of random-action steps."""

    def run_chunk(key):
        reset_key, action_key = jax.random.split(key)
        vs = venv.reset(reset_key)

        def body(vs, step_key):
            low, high = venv.action_low, venv.action_high
            action = jax.random.uniform(step_key, (venv.num_envs, venv.action_size),
                                        minval=low, maxval=high)
            vs = venv.step(vs, action)
            return vs, (vs.reward, vs.completed_length)

        return jax.lax.scan(body, vs, jax.random.split(action_key, num_steps))

    return run_chunk


def test_vmap_over_seeds_in_scan_mujoco():
    env = envs.make("InvertedPendulum-v5", backend="mujoco")
    venv = envs.VecEnv(env, 3)
    run = jax.jit(jax.vmap(run_chunk_fn(venv, 40)))
    keys = jax.random.split(jax.random.key(5), 2)
    vs, (rewards, completed) = run(keys)
    assert rewards.shape == (2, 40, 3) and vs.obs.shape == (2, 3, 4)
    assert (np.asarray(completed) > 0).any()  # random actions end episodes: resets happened
    alone_vs, (alone_rewards, _) = jax.jit(run_chunk_fn(venv, 40))(keys[1])
    np.testing.assert_allclose(rewards[1], alone_rewards, rtol=1e-6)
    np.testing.assert_allclose(vs.obs[1], alone_vs.obs, rtol=1e-6, atol=1e-7)


# ---- the Gymnasium evaluator --------------------------------------------------------------
def test_score_in_gymnasium_short_episodes():
    returns = score_in_gymnasium("InvertedPendulum-v5", lambda obs: np.array([3.0]),
                                    episodes=2, seed=0)
    assert returns.shape == (2,) and (returns >= 0).all() and (returns < 30).all()
    again = score_in_gymnasium("InvertedPendulum-v5", lambda obs: np.array([3.0]),
                                  episodes=2, seed=0)
    np.testing.assert_array_equal(returns, again)


# ---- MJX model options (config env.mjx.*; no MJX compile) ------------------------------------
def _config(backend="mjx", **mjx_fields):
    config = defaults.get_config()
    config.env.backend = backend
    config.env.mjx.update(mjx_fields)
    return config


def _options(opt) -> dict:
    """Every field of an MjOption, as numpy."""
    return {k: np.asarray(getattr(opt, k)) for k in dir(opt)
            if not k.startswith("_") and not callable(getattr(opt, k))}


def test_mjx_fields_reach_the_backend_model():
    """Training's env (training/plan.py build) gets config.env.mjx: in the MuJoCo model the
    backend steps and in MJX's copy of it."""
    config = _config(solver_iterations=4, ls_iterations=8, integrator="euler", jacobian="dense")
    env = training_plan.build(config).env
    assert env.backend == "mjx"
    for opt in (env.physics_model.opt, env._physics.mjx_model.opt):
        assert (int(opt.iterations), int(opt.ls_iterations)) == (4, 8)
        assert int(opt.integrator) == mujoco.mjtIntegrator.mjINT_EULER
        assert int(opt.jacobian) == mujoco.mjtJacobian.mjJAC_DENSE
    # The preset fills the fields left at their defaults; an explicit field wins. Humanoid keeps
    # Newton (MJX has no PGS) under any options.
    assert envs.mjx_options({"preset": "fast"}) == choices.MJX_PRESETS["fast"]
    assert envs.mjx_options({"preset": "fast", "ls_iterations": 16})["ls_iterations"] == 16
    humanoid = envs.make("Humanoid-v5", backend="mjx",
                         **envs.config_options(_config(preset="fast").env))
    opt = humanoid.physics_model.opt
    assert int(opt.solver) == envs.HUMANOID_MJX_SOLVER
    assert (int(opt.iterations), int(opt.ls_iterations)) == (
        choices.MJX_PRESETS["fast"]["solver_iterations"],
        choices.MJX_PRESETS["fast"]["ls_iterations"])


def test_mjx_defaults_are_the_xml_model():
    assert defaults.get_config().env.mjx.to_dict() == choices.MJX_DEFAULTS
    assert envs.config_options(_config().env) == {} and envs.mjx_options({}) == {}
    for name in ("Hopper-v5", "Humanoid-v5"):
        env = envs.make(name, backend="mjx", **envs.config_options(_config().env))
        ours, xml = _options(env.physics_model.opt), _options(env.task.model.opt)
        if name == "Humanoid-v5":  # the one documented deviation: Newton for the XML's PGS
            assert int(ours.pop("solver")) == envs.HUMANOID_MJX_SOLVER
            xml.pop("solver")
        assert ours.keys() == xml.keys()
        for key in xml:
            np.testing.assert_array_equal(ours[key], xml[key], err_msg=f"{name} opt.{key}")


@pytest.mark.parametrize("field,value,allowed", [
    ("solver_iterations", -1, "an int >= 0"),
    ("ls_iterations", -4, "an int >= 0"),
    ("integrator", "implicit", f"one of {list(choices.MJX_INTEGRATORS)}"),
    ("jacobian", "auto", f"one of {list(choices.MJX_JACOBIANS)}"),
    ("impl", "cuda", f"one of {list(choices.MJX_IMPLS)}"),
    ("preset", "faster", f"one of {list(choices.MJX_PRESETS)}"),
])
def test_bad_mjx_field_is_one_config_error(field, value, allowed):
    with pytest.raises(ConfigError) as err:
        validation.validate(_config(**{field: value}), device_count=1)
    assert str(err.value) == f"env.mjx.{field} must be {allowed}, got {value!r}"


def test_mjx_fields_never_change_c_mujoco_physics():
    """backend "mujoco" with a changed env.mjx field: refused; "auto" resolving to mujoco (CPU):
    the fields are not used (C MuJoCo steps the XML's physics); "warp" with impl "jax": refused."""
    with pytest.raises(ConfigError, match=r"env\.mjx\.preset must be '' with env.backend="
                                          r"'mujoco'.*got 'fast'"):
        validation.validate(_config("mujoco", preset="fast"), device_count=1)
    with pytest.raises(ConfigError, match=r"env\.mjx\.impl must be '' or 'warp' with "
                                          r"env.backend='warp'"):
        validation.validate(_config("warp", impl="jax"), device_count=1)
    if jax.default_backend() == "cpu":
        config = _config("auto", solver_iterations=2, integrator="euler")
        validation.validate(config, device_count=1)
        assert envs.config_options(config.env) == {}
        env = training_plan.build(config).env
        assert env.backend == "mujoco"
        opt = env.physics_model.opt
        assert int(opt.iterations) == 100 and int(opt.integrator) == mujoco.mjtIntegrator.mjINT_RK4
