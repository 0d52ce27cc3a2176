"""Bad input through the command line, one table: every case gets ONE line starting with
`error:`, a non-zero exit code, no traceback, and leaves an existing run's workdir unchanged.

The cases run as subprocesses, a few at a time, from one module fixture; each against its own
copy of a finished run's workdir (digests compared before and after), except the FRESH cases,
which point at a workdir that does not exist yet and must not create it."""

import concurrent.futures
import os
import shutil
import subprocess
import sys

import pytest

from _cli import SHORT, cli_env, digest, finished_quickstart

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = "--config=configs/quickstart.py"

# name: (arguments after `python -m ofe_jax.main --workdir=<copy>`, text the line must hold)
CASES = {
    "seeds_zero": ([QUICK, "--config.seeds=0"], "seeds must be an int >= 1, got 0"),
    "seeds_wrong_type": ([QUICK, "--config.seeds=abc"], "--config.seeds=abc"),
    "seed_negative": ([QUICK, "--config.seed=-1"], "seed must be an int >= 0, got -1"),
    "total_steps_negative": ([QUICK, "--config.total_steps=-5"],
                             "total_steps must be an int >= 1, got -5"),
    "total_steps_zero": ([QUICK, "--config.total_steps=0"], "total_steps must be an int >= 1"),
    "random_steps_negative": ([QUICK, "--config.random_steps=-1"],
                              "random_steps must be an int >= 0, got -1"),
    "unknown_env": ([QUICK, "--config.env.name=Hoper-v5"], "unknown environment 'Hoper-v5'"),
    # mujoco fails as it is imported when MUJOCO_GL names no backend (or one whose library is
    # missing); the commands import it without rendering, so only a video would need it
    "unknown_env_mujoco_gl_bogus": ([QUICK, "--config.env.name=Hoper-v5"],
                                    "unknown environment 'Hoper-v5'"),
    "num_envs_zero": ([QUICK, "--config.env.num_envs=0"], "env.num_envs must be an int >= 1"),
    "unknown_backend": ([QUICK, "--config.env.backend=gpu"], "env.backend must be one of"),
    "episode_length_zero": ([QUICK, "--config.env.episode_length=0"],
                            "env.episode_length must be an int >= 1"),
    "unknown_algorithm": ([QUICK, "--config.agent.name=ppo"], "agent.name must be one of"),
    "gamma_out_of_range": ([QUICK, "--config.agent.gamma=1.5"], "agent.gamma must be in [0, 1]"),
    "tau_zero": ([QUICK, "--config.agent.tau=0.0"], "agent.tau must be in (0, 1]"),
    "batch_size_zero": ([QUICK, "--config.agent.batch_size=0"], "agent.batch_size must be"),
    "unknown_network": ([QUICK, "--config.agent.network.kind=resnet"],
                        "agent.network.kind must be one of ['mlp', 'dense', 'simba']"),
    "units_zero": ([QUICK, "--config.agent.network.units=0"], "agent.network.units must be"),
    "unknown_activation": ([QUICK, "--config.agent.network.activation=sigmoidal"],
                           "agent.network.activation must be one of"),
    "learning_rate_negative": ([QUICK, "--config.agent.actor_learning_rate=-0.001"],
                               "agent.actor_learning_rate must be > 0"),
    "ofenet_units_not_multiple": ([QUICK, "--config.agent.ofenet.enabled=True",
                                   "--config.agent.ofenet.total_units=10",
                                   "--config.agent.ofenet.layers=4"],
                                  "agent.ofenet.total_units must be a positive multiple"),
    "unknown_temperature_loss": ([QUICK, "--config.agent.temperature_loss=beta"],
                                 "agent.temperature_loss must be one of"),
    "capacity_zero": ([QUICK, "--config.replay.capacity=0"], "replay.capacity must be an int"),
    "unknown_obs_dtype": ([QUICK, "--config.replay.obs_dtype=int8"],
                          "replay.obs_dtype must be one of"),
    "beta0_out_of_range": ([QUICK, "--config.replay.priority_beta0=2.0"],
                           "replay.priority_beta0 must be in [0, 1]"),
    "sigma_negative": ([QUICK, "--config.exploration.td3_sigma_min=-1.0"],
                       "exploration.td3_sigma_min=-1.0"),
    "updates_per_step_zero": ([QUICK, "--config.updates_per_step=0.0"],
                              "updates_per_step must be > 0"),
    "log_every_zero": ([QUICK, "--config.log_every=0"], "log_every must be an int >= 1"),
    "eval_episodes_zero": ([QUICK, "--config.eval_episodes=0"], "eval_episodes must be an int"),
    "keep_checkpoints_zero": ([QUICK, "--config.keep_checkpoints=0"],
                              "keep_checkpoints must be an int >= 1"),
    "mesh_does_not_divide_seeds": ([QUICK, "--config.seeds=3",
                                    "--config.parallel.seeds_devices=2"],
                                   "parallel.seeds_devices=2 does not divide seeds=3"),
    "mesh_too_many_devices": ([QUICK, "--config.parallel.data_devices=4",
                               "--config.env.num_envs=4"], "devices, but only 1"),
    "ojk21_mesh_does_not_divide_actors": (["--config=configs/paper.py:Hopper-v5,sac,ojk21",
                                           "--config.parallel.data_devices=3"],
                                          "parallel.data_devices=3 does not divide "
                                          "env.num_envs=8"),
    "multi_host_without_coordinator": (["--config.parallel.num_processes=2"],  # default config
                                       "parallel.num_processes=2 needs "
                                       "parallel.coordinator_address"),
    "unknown_field": ([QUICK, "--config.no_such_field=1"], "unknown config field no_such_field"),
    "unknown_field_default_config": (["--config.no_such_field=1"],  # applied while defining
                                     "unknown config field no_such_field"),
    "config_is_a_directory": (["--config=configs"], "cannot load --config"),
    "config_is_empty": (["--config={tmp}/empty.py"], "cannot load --config"),
    "config_syntax_error": (["--config={tmp}/syntax.py"], "syntax error in"),
    "config_without_get_config": (["--config={tmp}/no_get_config.py"], "get_config"),
    "config_missing": (["--config={tmp}/missing.py"], "cannot load --config"),
    "paper_task_misspelt": (["--config=configs/paper.py:Hoper-v5,sac,dense"],
                            "configs/paper.py takes 'task,algorithm,variant'"),
    "paper_spec_incomplete": (["--config=configs/paper.py:Hopper-v5,sac"],
                              "configs/paper.py takes 'task,algorithm,variant'"),
    "resume_with_other_network": ([QUICK, *SHORT, "--config.agent.network.units=32"],
                                  "holds a run of a different config "
                                  "(agent.network.units: 64 -> 32)"),
    "unexpected_argument": ([QUICK, "extra"], "unexpected arguments: extra"),
    "unknown_critic_loss": ([QUICK, "--config.agent.critic_loss=huber"],
                            "agent.critic_loss must be one of ['mse', 'hl_gauss']"),
    "unknown_compute_dtype": ([QUICK, "--config.agent.compute_dtype=float16"],
                              "agent.compute_dtype must be one of ['float32', 'bfloat16']"),
    "hl_gauss_one_bin": ([QUICK, "--config.agent.hl_gauss.num_bins=1"],
                         "agent.hl_gauss.num_bins must be an int >= 2, got 1"),
    "hl_gauss_empty_support": ([QUICK, "--config.agent.hl_gauss.min_value=5.0",
                                "--config.agent.hl_gauss.max_value=5.0"],
                               "agent.hl_gauss.min_value=5.0 must be < "
                               "agent.hl_gauss.max_value=5.0"),
    "crossq_three_critics": (["--config=configs/crossq.py:Hopper-v5",
                              "--config.agent.num_critics=3"],
                             "agent.num_critics must be 2 for crossq"),
    "grid_of_a_shape": ([QUICK, "--config.grid.network.units=64,128"],
                        "grid.network.units cannot be gridded"),
    "grid_empty": ([QUICK, "--config.grid.tau=,"], "grid.tau=',' must be a comma-separated"),
    "grid_wrong_type": ([QUICK, "--config.grid.critic_learning_rate=fast,slow"],
                        "grid.critic_learning_rate='fast,slow' must be a comma-separated"),
    "grid_field_the_agent_lacks": ([QUICK, "--config.grid.target_noise=0.1,0.2"],
                                   "grid.target_noise: agent 'sac' has no target_noise"),
    "grid_point_invalid": ([QUICK, "--config.grid.tau=0.5,2.0"],
                           "grid.tau=2: agent.tau must be in (0, 1]"),
}
WORKDIR_IS_A_FILE = "workdir_is_a_file"
WORKDIR_UNDER_A_FILE = "workdir_under_a_file"
WORKDIR_CASES = {WORKDIR_IS_A_FILE: "{tmp}/a_file", WORKDIR_UNDER_A_FILE: "{tmp}/a_file/run"}
# Run against a workdir that does not exist: it must not be created.
FRESH = ("unknown_env", "unknown_env_mujoco_gl_bogus", "total_steps_zero", "num_envs_zero",
         "seeds_zero", "unknown_field", "unknown_field_default_config",
         "multi_host_without_coordinator")


def _prepare(tmp) -> None:
    (tmp / "empty.py").write_text("")
    (tmp / "syntax.py").write_text("def get_config(:\n")
    (tmp / "no_get_config.py").write_text("import ml_collections\nCONFIG = 1\n")
    (tmp / "a_file").write_text("not a directory")


# name: environment variables of that case's process
CASE_ENV = {"unknown_env_mujoco_gl_bogus": {"MUJOCO_GL": "bogus"}}


def _run(args, workdir, env=None):
    return subprocess.run([sys.executable, "-m", "ofe_jax.main", f"--workdir={workdir}", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**cli_env(), **(env or {})})


@pytest.fixture(scope="module")
def results(tmp_path_factory, worker_id):
    """{case: (result, digest before, digest after)} for every case, run 3 at a time."""
    tmp = tmp_path_factory.mktemp("bad_input")
    _prepare(tmp)
    finished = finished_quickstart(tmp_path_factory, worker_id)  # a run of [QUICK, *SHORT]

    def one(name):
        if name in WORKDIR_CASES:
            return _run([QUICK, *SHORT], WORKDIR_CASES[name].format(tmp=tmp)), None, None
        workdir = tmp / name
        if name not in FRESH:
            shutil.copytree(finished, workdir)
        before = digest(workdir) if name not in FRESH else None
        args = [a.replace("{tmp}", str(tmp)) for a in CASES[name][0]]
        result = _run(args, workdir, CASE_ENV.get(name))
        return result, before, digest(workdir) if workdir.exists() else None

    names = [*CASES, *WORKDIR_CASES]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        return dict(zip(names, pool.map(one, names)))


def test_the_table_is_large_enough():
    assert len(CASES) + len(WORKDIR_CASES) >= 30 and set(FRESH) <= set(CASES)


@pytest.mark.parametrize("name", [*CASES, *WORKDIR_CASES])
def test_bad_input_gets_one_error_line(results, name):
    result, before, after = results[name]
    expected = CASES[name][1] if name in CASES else "is not writable"
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert expected in lines[0], lines[0]
    assert before == after  # nothing in the existing workdir changed (a fresh one: not created)
