"""`python -m ofe_jax.sweep` end to end on a two-cell table (Hopper-v5 x {sac, td3} x mlp, tiny
networks and budgets): Ctrl-C in the second cell and the same command again give the report of
an uninterrupted sweep; a rerun of a finished sweep only rebuilds the report; bad input gets one
error line and changes nothing; every table's cells build and validate."""

import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from _cli import cli_env, digest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CELLS = ("Hopper-v5-sac-mlp", "Hopper-v5-td3-mlp")
TINY = ["agent.network.units=16", "agent.network.layers=1", "agent.batch_size=16",
        "random_steps=200", "log_every=200", "eval_every=200", "checkpoint_every=200",
        "eval_episodes=1", "env.episode_length=100", "replay.capacity=1000"]
SWEEP = ["--table=ojk21", "--tasks=Hopper-v5", "--algos=sac,td3", "--variants=mlp",
         "--seeds=2", "--total_steps=600", *[f"--override=--config.{o}" for o in TINY]]


def sweep(root, *args, timeout=400):
    return subprocess.run([sys.executable, "-m", "ofe_jax.sweep", f"--root={root}", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=cli_env())


def statistics(root) -> list[dict]:
    """report.json's groups without the paths (runs differ by root)."""
    with open(os.path.join(root, "report", "report.json")) as f:
        groups = json.load(f)["groups"]
    for g in groups:
        g.pop("runs")
        for p in g["per_seed"]:
            p.pop("run")
    return groups


def without_report(root) -> dict:
    return {k: v for k, v in digest(root).items() if not k.startswith("report" + os.sep)}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("sweep") / "finished")
    result = sweep(root, *SWEEP)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cell 1 of 2: Hopper-v5-sac-mlp: starting (600 steps)" in result.stdout
    assert "cell 2 of 2: Hopper-v5-td3-mlp: starting (600 steps)" in result.stdout
    return root


def test_the_report_shows_ours_and_the_published_rows(finished):
    groups = statistics(finished)
    assert [(g["task"], g["algorithm"], g["variant"], g["num_seeds"]) for g in groups] == [
        ("Hopper-v5", "sac", "baseline", 2), ("Hopper-v5", "td3", "baseline", 2)]
    assert all(g["steps_reached"] == {"min": 600, "max": 600} for g in groups)
    assert all({"mean", "iqm", "ci95"} <= set(g["final_return"]) for g in groups)
    with open(os.path.join(finished, "report", "report.md")) as f:
        md = f.read()
    assert "### Hopper-v5 - SAC: our runs (Gymnasium v5)" in md
    assert "Published rows for Hopper (not run here)" in md
    assert "| SAC | v4 | 1,000,000 | 10 | 2787 | dojeon-ai/SimbaV2@" in md
    assert "| OJK21 SAC | v2 | not stated |" in md
    assert os.path.isfile(os.path.join(finished, "report", "Hopper-v5.png"))


def test_interrupted_sweep_resumes_to_the_same_report(finished, tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) while the second cell
    compiles: that cell saves its first chunk's checkpoint, the sweep exits 130, and the same
    command resumes it. (The first cell is a copy of the finished sweep's, to save a compile:
    it is skipped.)"""
    root = tmp_path / "interrupted"
    shutil.copytree(os.path.join(finished, CELLS[0]), root / CELLS[0])
    process = subprocess.Popen(
        [sys.executable, "-m", "ofe_jax.sweep", f"--root={root}", *SWEEP], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env=cli_env())
    config = root / CELLS[1] / "config.json"  # written once the cell handles signals
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None and not config.exists():
        time.sleep(0.2)
    assert process.poll() is None and config.exists(), process.communicate()[1][-3000:]
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr[-3000:]
    assert "cell 1 of 2: Hopper-v5-sac-mlp: skipped (finished at step 600)" in stdout
    assert "interrupted: checkpoint saved at step 200 (SIGINT)" in stderr
    assert stderr.strip().splitlines()[-1] == (
        "interrupted at cell 2 of 2 (Hopper-v5-td3-mlp); run the same command to resume")
    assert not (root / "report").exists()

    resumed = sweep(root, *SWEEP)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "cell 2 of 2: Hopper-v5-td3-mlp: resuming at step 200 of 600" in resumed.stdout
    assert statistics(root) == statistics(finished)


def test_rerun_of_a_finished_sweep_only_rebuilds_the_report(finished, tmp_path):
    root = str(tmp_path / "copy")
    shutil.copytree(finished, root)
    before = without_report(root)
    os.remove(os.path.join(root, "report", "report.md"))
    result = sweep(root, *SWEEP)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [line for line in result.stdout.splitlines() if line.startswith("cell ")] == [
        f"cell {i} of 2: {name}: skipped (finished at step 600)"
        for i, name in enumerate(CELLS, start=1)]
    assert without_report(root) == before
    assert os.path.isfile(os.path.join(root, "report", "report.md"))
    assert statistics(root) == statistics(finished)


def test_the_configs_checked_are_the_ones_the_cells_ran(finished):
    """The sweep builds each cell's config in its own process (to validate, and to compare with
    a cell's config.json before skipping or resuming it): the same config as the cell's run."""
    from ofe_jax import sweep as sweep_lib
    from ofe_jax.config.tables import TABLES

    args = ["--config.seeds=2", "--config.total_steps=600", *[f"--config.{o}" for o in TINY]]
    cells = TABLES["ojk21"].cells(["Hopper-v5"], ["sac", "td3"], ["mlp"])
    assert [c.name for c in cells] == list(CELLS)
    for cell in cells:
        with open(os.path.join(finished, cell.name, "config.json")) as f:
            saved = json.load(f)
        assert json.loads(sweep_lib._load_config(cell, args).to_json_best_effort()) == saved
    gridded = sweep_lib._load_config(cells[0], [*args, "--config.grid.tau=0.005,0.01"])
    assert gridded.grid.tau == "0.005,0.01"


def test_report_only(finished, tmp_path):
    root = str(tmp_path / "copy")
    shutil.copytree(finished, root)
    shutil.rmtree(os.path.join(root, "report"))
    shutil.rmtree(os.path.join(root, CELLS[1]))
    before = digest(root)
    result = sweep(root, "--report_only", "--table=ojk21")
    assert result.returncode == 0, result.stderr[-3000:]
    assert digest(root).keys() - before.keys() == {
        os.path.join("report", name) for name in ("report.md", "report.json", "Hopper-v5.png")}
    assert [g["algorithm"] for g in statistics(root)] == ["sac"]


OTHER_WIDTH = "--override=--config.agent.network.units=32"  # the finished cells have 16
# name: (arguments after --root=<copy of the finished sweep>, text the one line must hold)
BAD = {
    "unknown_table": ([*SWEEP, "--table=atari"], "flag --table=atari: value should be one of"),
    "unknown_task": ([*SWEEP, "--tasks=Hoper-v5"], "--tasks: 'Hoper-v5' is not in table"),
    "unknown_algorithm": ([*SWEEP, "--algos=sac,ppo"], "--algos: 'ppo' is not in table"),
    "algorithm_not_in_table": ([*SWEEP, "--table=variants", "--algos=td3"],
                               "--algos: 'td3' is not in table 'variants'"),
    "unknown_variant": ([*SWEEP, "--variants=huge"], "--variants: 'huge' is not in table"),
    "empty_grid": ([*SWEEP, "--grid=tau="], "--grid=tau= must be <field>=v1,v2"),
    "grid_of_words": ([*SWEEP, "--grid=tau=fast,slow"],
                      "Hopper-v5-sac-mlp: grid.tau='fast,slow' must be a comma-separated"),
    "grid_of_a_shape": ([*SWEEP, "--grid=network.units=64,128"],
                        "grid.network.units cannot be gridded"),
    "bad_override": ([*SWEEP, "--override=seeds=2"],
                     "--override=seeds=2 must be --config.<field>=<value>"),
    "override_of_wrong_type": ([*SWEEP, "--override=--config.random_steps=many"],
                               "flag --config.random_steps=many"),
    "invalid_override": ([*SWEEP, "--override=--config.agent.tau=2.0"],
                         "Hopper-v5-sac-mlp: agent.tau must be in (0, 1]"),
    "cell_of_another_config": ([*SWEEP, OTHER_WIDTH], "holds a run of a different config "
                               "(agent.network.units: 16 -> 32)"),
    "report_only_without_cells": (["--report_only", "--root=/nonexistent/sweep"],
                                  "no cells of the table in '/nonexistent/sweep'"),
}


@pytest.fixture(scope="module")
def bad_results(finished, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("bad") / "root")
    shutil.copytree(finished, root)
    before = digest(root)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = dict(zip(BAD, pool.map(lambda name: sweep(root, *BAD[name][0]), BAD)))
    return results, before, digest(root)


@pytest.mark.parametrize("name", BAD)
def test_bad_input_gets_one_error_line_and_changes_nothing(bad_results, name):
    results, before, after = bad_results
    result = results[name]
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert BAD[name][1] in lines[0], lines[0]
    assert "cell " not in result.stdout  # no cell started
    assert after == before


def test_every_cell_of_every_table_builds_and_validates():
    import importlib.util

    from ofe_jax.config import validation
    from ofe_jax.config.tables import TABLES

    loaded = {}
    for table in TABLES.values():
        for cell in table.cells():
            if cell.config_file not in loaded:
                spec = importlib.util.spec_from_file_location("cfg", cell.config_file)
                loaded[cell.config_file] = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(loaded[cell.config_file])
            config = loaded[cell.config_file].get_config(cell.spec)
            validation.validate(config, device_count=1)
            assert config.env.name == cell.task
            expected = "crossq" if cell.variant == "crossq" else cell.algorithm
            assert config.agent.name == expected, cell.name
    assert len(TABLES["ojk21"].cells()) == 30 and len(TABLES["variants"].cells()) == 25
