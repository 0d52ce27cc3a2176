"""The policy artifact: saved with every checkpoint, loaded without the training carry, scored in
Gymnasium by `python -m ofe_jax.evaluate` (quietly), with a video."""

import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

import ofe_jax
from ofe_jax.config import quickstart
from ofe_jax.training import Trainer, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def directory_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, files in os.walk(path) for name in files)


@pytest.fixture(scope="module")
def big_replay_run(tmp_path_factory):
    """A short run whose replay holds 1M transitions per seed (2 seeds), so the carry is large
    (~90 MB) and the policy small."""
    c = quickstart.get_config()
    c.seeds, c.total_steps, c.log_every, c.random_steps = 2, 400, 200, 200
    c.eval_every, c.eval_episodes, c.checkpoint_every = 200, 2, 200
    c.replay.capacity = 1_000_000
    workdir = str(tmp_path_factory.mktemp("runs") / "big_replay")
    assert run.train(c, workdir) == 0
    return workdir, c


def test_the_artifact_is_under_5_percent_of_the_checkpoint(big_replay_run):
    """Against the carry's array bytes (what a filled replay writes: orbax compresses the
    untouched zero slots of this short run's buffers, so its files are smaller)."""
    workdir, config = big_replay_run
    step_dir = os.path.join(workdir, "checkpoints", "400")
    policy = directory_bytes(os.path.join(step_dir, "policy")) + directory_bytes(
        os.path.join(step_dir, "policy_meta"))
    carry = sum(x.size * x.dtype.itemsize
                for x in jax.tree.leaves(Trainer(config).abstract_carry()))
    assert carry > 80e6  # the two replays: 2 x 1M x (2 x 4 + 1 + 2) float32
    assert policy < 0.05 * carry, (policy, carry)


def test_load_policy_never_reads_the_carry(big_replay_run, tmp_path):
    """With the carry moved out of the checkpoint, the policy still loads and acts as the
    trainer's deterministic policy does."""
    workdir, config = big_replay_run
    copy = str(tmp_path / "run")
    shutil.copytree(workdir, copy)
    shutil.move(os.path.join(copy, "checkpoints", "400", "carry"), str(tmp_path / "carry"))
    policies = {policy.seed: policy for policy in ofe_jax.load_policies(copy)}
    assert sorted(policies) == [0, 1] and ofe_jax.load_policy(copy).seed == 0
    # Same actions as the restored training state's deterministic policy.
    from ofe_jax.checkpoint import Checkpointer

    trainer = Trainer(config)
    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"))
    carry = checkpoints.restore_carry(trainer.abstract_carry())
    checkpoints.close()
    obs = jax.random.normal(jax.random.PRNGKey(0), (16, 4))
    for i, seed in enumerate((0, 1)):
        state = jax.tree.map(lambda x: x[i], carry.agent)
        expected = trainer.to_env_action(trainer.agent.act(state, obs, None, deterministic=True))
        np.testing.assert_allclose(policies[seed](obs), expected, rtol=1e-6, atol=1e-6)
        assert policies[seed](obs[0]).shape == (1,)  # one observation works too
    assert not np.allclose(policies[0](obs), policies[1](obs))
    with pytest.raises(ofe_jax.policy.CheckpointError, match="seed 7 is not in the run"):
        ofe_jax.load_policy(copy, seed=7)


def _evaluate(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ofe_jax.evaluate", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)


def test_evaluate_is_quiet_and_scores_every_seed(big_replay_run, tmp_path):
    workdir, _ = big_replay_run
    copy = str(tmp_path / "run")
    shutil.copytree(workdir, copy)
    shutil.rmtree(os.path.join(copy, "checkpoints", "400", "carry"))  # never needed
    result = _evaluate(f"--workdir={copy}", "--episodes=2")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["seed 0", "seed 1"]
    assert all("over 2 Gymnasium episodes" in line for line in lines)
    assert "INFO" not in result.stderr and "orbax" not in result.stderr.lower(), result.stderr


def _gl_available() -> str | None:
    """The MUJOCO_GL backend that works here (egl, then osmesa), or None."""
    for backend in ("egl", "osmesa"):
        probe = subprocess.run(
            [sys.executable, "-c", "import mujoco; m = mujoco.MjModel.from_xml_string("
             "'<mujoco><worldbody/></mujoco>'); mujoco.Renderer(m, 16, 16)"],
            env={**os.environ, "MUJOCO_GL": backend}, capture_output=True, timeout=120)
        if probe.returncode == 0:
            return backend
    return None


def test_evaluate_writes_a_video(big_replay_run, tmp_path):
    backend = _gl_available()
    if backend is None:
        pytest.skip("no OpenGL library for headless rendering (neither EGL nor OSMesa)")
    workdir, _ = big_replay_run
    video = tmp_path / "episode.mp4"
    result = _evaluate(f"--workdir={workdir}", "--episodes=1", f"--video={video}",
                       env={**os.environ, "MUJOCO_GL": backend})
    assert result.returncode == 0, result.stderr[-2000:]
    data = video.read_bytes()
    assert len(data) > 1000 and data[4:8] == b"ftyp"  # an MP4 container


def test_evaluate_bad_input(tmp_path):
    result = _evaluate(f"--workdir={tmp_path / 'nowhere'}")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and lines == [
        f"error: no config.json in {str(tmp_path / 'nowhere')!r}: not a run directory"]
