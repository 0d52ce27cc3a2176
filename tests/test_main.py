"""The command line end to end: quick start, outputs, resume, the NaN guard, plot and evaluate
(bad input: test_bad_input.py; signals: test_reliability.py; damaged checkpoints:
test_corrupt_checkpoints.py)."""

import os
import shutil
import subprocess
import sys

import pytest

from _cli import SHORT, digest, finished_quickstart, run_main
from ofe_jax.checkpoint import Checkpointer
from ofe_jax.training import run

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, worker_id):
    return finished_quickstart(tmp_path_factory, worker_id)  # read-only: copy to change it


def test_quickstart_through_main_writes_everything(finished_run):
    files = set(os.listdir(finished_run))
    assert {"metrics.csv", "config.json", "learning_curve.png", "checkpoints",
            "tensorboard"} <= files
    assert Checkpointer(os.path.join(finished_run, "checkpoints"), 3).latest_step() == 600
    with open(os.path.join(finished_run, "metrics.csv")) as f:
        rows = f.read().splitlines()
    assert rows[0].startswith("step,seed,episode_return")
    assert [r.split(",")[0] for r in rows[1:]] == ["200", "400", "600"]
    assert os.listdir(os.path.join(finished_run, "tensorboard"))


def test_rerun_of_a_finished_run_resumes_and_does_nothing(finished_run, tmp_path):
    workdir = str(tmp_path / "copy")
    shutil.copytree(finished_run, workdir)
    before = digest(workdir)
    result = run_main("--config=configs/quickstart.py", f"--workdir={workdir}", *SHORT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resumed from the checkpoint at step 600" in result.stderr + result.stdout
    after = digest(workdir)
    assert {k: v for k, v in after.items() if "checkpoints" in k} == {
        k: v for k, v in before.items() if "checkpoints" in k}


# Bad config values, a multi-host run without a coordinator, an unwritable workdir and a workdir
# of another config: tests/test_bad_input.py (one table of CLI cases).


# A damaged checkpoint (zeroed, truncated, garbled, missing files): tests/test_corrupt_checkpoints.py.


def test_nan_guard_stops_without_touching_the_last_checkpoint(tmp_path):
    from ofe_jax.config import quickstart

    c = quickstart.get_config()
    c.total_steps, c.log_every, c.random_steps = 600, 200, 200
    c.checkpoint_every, c.eval_every, c.eval_episodes = 200, 200, 2
    c.replay.capacity = 5000
    c.agent.critic_learning_rate = 1e30  # diverges on the first updates (chunk 2)
    workdir = str(tmp_path / "run")
    assert run.train(c, workdir) == 1
    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"), 3)
    assert checkpoints.all_steps() == [200]


def test_plot_and_evaluate_commands(finished_run, tmp_path):
    out = tmp_path / "curve.png"
    result = subprocess.run([sys.executable, "-m", "ofe_jax.plot", f"--workdir={finished_run}",
                             f"--out={out}"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.stat().st_size > 1000
    from ofe_jax.evaluate import score_run

    scored = score_run(finished_run, episodes=2)  # official Gymnasium env, C MuJoCo
    assert [policy.seed for policy, _ in scored] == [0] and scored[0][1].shape == (2,)
    assert all(1 <= r <= 1000 for r in scored[0][1])  # InvertedPendulum: 1 per step, <= 1000
    missing = subprocess.run([sys.executable, "-m", "ofe_jax.evaluate",
                              f"--workdir={tmp_path / 'nowhere'}"], capture_output=True,
                             text=True, timeout=120)
    assert missing.returncode != 0 and "error: no config.json" in missing.stderr


def test_no_top_level_configs_package_is_installed(tmp_path):
    """configs/*.py are files loaded by path; importing `configs` from elsewhere must fail (the
    package would collide with any other project's `configs`)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", "import configs"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "No module named 'configs'" in result.stderr
    ok = subprocess.run([sys.executable, "-c", "import ofe_jax.config.paper"], cwd=tmp_path,
                        env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr


def test_a_bad_config_value_fails_before_jax_is_imported(tmp_path):
    # validation is pure (ofe_jax/config): the error line comes before the seconds of importing
    # jax, and the workdir is not created
    workdir = tmp_path / "w"
    code = ("import atexit, runpy, sys; "
            "atexit.register(lambda: print('jax imported:', 'jax' in sys.modules)); "
            "sys.argv = ['ofe_jax.main', '--config=configs/quickstart.py', "
            f"'--config.agent.gamma=1.5', '--workdir={workdir}']; "
            "runpy.run_module('ofe_jax.main', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: agent.gamma must be in [0, 1], got 1.5"
    assert result.stdout.strip() == "jax imported: False"
    assert not workdir.exists()
