"""The analysis room: statistics against hand-computed values, the run reader, learning curves,
grouping and seed pooling, the report's command line end to end on synthetic run directories,
bad input, and that it all imports no jax."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ofe_jax.analysis import figures, report, stats
from ofe_jax.analysis import runs as run_reader
from ofe_jax.errors import ReportError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Synthetic runs. ------------------------------------------------------------------------------

def _config(task="Hopper-v5", algorithm="sac", variant="mlp", seed=0, seeds=2, **extra):
    dense = variant == "dense"
    config = {
        "seed": seed, "seeds": seeds, "total_steps": 300,
        "env": {"name": task, "num_envs": 1, "backend": "auto", "episode_length": 1000},
        "agent": {"name": algorithm, "gamma": 0.99,
                  "network": {"kind": "dense" if dense else "mlp",
                              "units": 2048 if dense else 256, "layers": 2,
                              "activation": "relu", "layer_norm": False},
                  "ofenet": {"enabled": dense, "total_units": 240, "layers": 6}},
        "eval_every": 100, "log_every": 100,
    }
    for key, value in extra.items():  # "a.b": v
        *path, last = key.split(".")
        node = config
        for p in path:
            node = node[p]
        node[last] = value
    return config


def make_run(path, config, evals, eval_every_row=True):
    """evals: {seed: [(step, return), ...]}; training-only rows (empty eval_return) in between."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    lines = ["step,seed,episode_return,episode_length,episodes,eval_return"]
    rows = []
    for seed, points in evals.items():
        for step, ret in points:
            rows.append((step, seed, ret))
            if eval_every_row:
                rows.append((step + 50, seed, None))
    for step, seed, ret in sorted(rows):
        lines.append(f"{step},{seed},1.0,10,1,{'' if ret is None else ret}")
    with open(os.path.join(path, "metrics.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return str(path)


# Statistics. ----------------------------------------------------------------------------------

def test_iqm_hand_computed():
    # n = 4: the middle two values, both conventions.
    assert stats.iqm([10.0, 1.0, 4.0, 3.0]) == pytest.approx(3.5)
    assert stats.iqm([10.0, 1.0, 4.0, 3.0], "trim_mean") == pytest.approx(3.5)
    # n = 5, sorted 1, 2, 3, 4, 100: quantile slices of 0.2; [0.25, 0.75] covers 0.15 of the
    # 2nd, all 0.2 of the 3rd, 0.15 of the 4th -> (0.15*2 + 0.2*3 + 0.15*4) / 0.5 = 3.0 ...
    assert stats.iqm([100.0, 1.0, 2.0, 3.0, 4.0]) == pytest.approx(3.0)
    # ... and with an asymmetric middle: 1, 2, 6, 7, 100 -> (0.3 + 1.2 + 1.05) / 0.5 = 5.1
    assert stats.iqm([1.0, 2.0, 6.0, 7.0, 100.0]) == pytest.approx(5.1)
    # trim_mean drops floor(5/4) = 1 at each end: mean(2, 6, 7) = 5.
    assert stats.iqm([1.0, 2.0, 6.0, 7.0, 100.0], "trim_mean") == pytest.approx(5.0)
    # n = 3, fractional weights 1/12, 1/3, 1/12 -> (1 + 4*2 + 1*9) / 6 = 3; trim_mean: mean = 4
    assert stats.iqm([1.0, 2.0, 9.0]) == pytest.approx(3.0)
    assert stats.iqm([1.0, 2.0, 9.0], "trim_mean") == pytest.approx(4.0)
    # n = 1 and n = 2: the mean.
    assert stats.iqm([7.0]) == 7.0
    assert stats.iqm([2.0, 4.0]) == pytest.approx(3.0)
    # n = 8 agrees with scipy.stats.trim_mean(x, 0.25): mean of the 3rd..6th sorted values.
    x = [8.0, 1.0, 7.0, 2.0, 6.0, 3.0, 5.0, 40.0]
    assert stats.iqm(x) == pytest.approx(np.mean([3.0, 5.0, 6.0, 7.0]))
    assert stats.iqm(x, "trim_mean") == pytest.approx(stats.iqm(x))
    with pytest.raises(ValueError):
        stats.iqm([1.0], "median")


def test_bootstrap_ci_hand_computed_and_deterministic():
    # All seeds equal: every resampled mean is that value.
    assert stats.bootstrap_ci([5.0, 5.0, 5.0]) == (5.0, 5.0)
    assert stats.bootstrap_ci([3.0]) == (3.0, 3.0)
    # Two seeds 0 and 1: resampled means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so the
    # 2.5th and 97.5th percentiles of 10,000 resamples are 0 and 1.
    assert stats.bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    values = [1.3, 4.1, 2.7, 8.9, 5.2, 0.4, 6.6]
    low, high = stats.bootstrap_ci(values, seed=3)
    assert low < np.mean(values) < high
    assert min(values) <= low and high <= max(values)
    assert stats.bootstrap_ci(values, seed=3) == (low, high)  # deterministic for a seed
    assert stats.bootstrap_ci(values, seed=4) != (low, high)  # and the seed is used
    # More seeds from the same distribution (same spread): a narrower interval, ~1/sqrt(n).
    small = stats.bootstrap_ci([0.0, 1.0] * 2)
    large = stats.bootstrap_ci([0.0, 1.0] * 32)
    assert small[0] <= 0.5 <= small[1] and large[0] <= 0.5 <= large[1]
    assert (large[1] - large[0]) < 0.4 * (small[1] - small[0])


def test_auc_hand_computed():
    # (0, 0) -> (100, 10) -> (300, 10): area 500 + 2000 = 2500 over a span of 300.
    assert stats.auc([0, 100, 300], [0.0, 10.0, 10.0]) == pytest.approx(2500.0 / 300.0)
    # Not starting at 0: steps 100..200, returns 2 -> 4: mean 3.
    assert stats.auc([100, 200], [2.0, 4.0]) == pytest.approx(3.0)
    assert stats.auc([500], [7.0]) == 7.0  # a single evaluation


def test_variant_labels():
    agent = lambda kind, units, ofenet, layers=2: {
        "network": {"kind": kind, "units": units, "layers": layers},
        "ofenet": {"enabled": ofenet}}
    assert run_reader.variant_label(agent("dense", 2048, True)) == "ojk21"
    assert run_reader.variant_label(agent("mlp", 256, False)) == "baseline"
    assert run_reader.variant_label(agent("dense", 2048, False)) == "dense2048"
    assert run_reader.variant_label(agent("mlp", 256, True)) == "mlp256+ofenet"
    assert run_reader.variant_label(agent("dense", 1024, True)) == "dense1024+ofenet"
    assert run_reader.variant_label(agent("mlp", 256, False, layers=3)) == "mlp256x3"


def test_references_are_ojk21_gym_v2():
    ref = report.OJK21_REFERENCE
    assert ref["gym_version"] == "v2" and "2102.07920" in ref["citation"]
    assert [ref["returns"]["sac"][t] for t in ("Hopper", "Walker2d", "HalfCheetah", "Ant",
                                               "Humanoid")] == [3467, 8802, 19210, 14021, 14858]
    assert [ref["returns"]["td3"][t] for t in ("Hopper", "Walker2d", "HalfCheetah", "Ant",
                                               "Humanoid")] == [3207, 7646, 18148, 12811, 13282]
    assert report.reference_return("Walker2d-v5", "td3") == 7646


def test_published_rows_at_1m_on_gym_v4():
    """The rows beside ours, as computed from each project's result file (sources cited)."""
    rows = {p["name"]: p for p in report.PUBLISHED}
    order = ("Humanoid", "Ant", "HalfCheetah", "Hopper", "Walker2d")
    expected = {"SAC": [4826, 5734, 11321, 2787, 4536],
                "CrossQ": [10480, 6980, 12893, 2467, 6257],
                "SimbaV2 (UTD 2)": [10546, 7429, 12022, 4054, 6938],
                "FlashSAC": [12606, 7590, 14465, 4064, 7346]}
    for name, values in expected.items():
        assert [rows[name]["returns"][t] for t in order] == values
        assert rows[name]["gym_version"] == "v4" and rows[name]["steps"] == 1_000_000
        assert "@" in rows[name]["source"] and ".csv" in rows[name]["source"]
    table = "\n".join(report.published_rows("Hopper-v5"))
    assert "| FlashSAC | v4 | 1,000,000 | 5 | 4064 |" in table and "| OJK21 SAC | v2 |" in table


def test_mean_and_ci_hand_computed():
    returns = np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0], [4.0, np.nan, 6.0]])
    mean, half = stats.mean_and_ci(returns)
    np.testing.assert_allclose(mean, [2.0, 10.0, 5.0])
    # row 0: std 1, n 3, t(2) = 4.3027 -> 4.3027 / sqrt(3); row 2: std sqrt(2), n 2,
    # t(1) = 12.7062 (two-sided 95% Student-t quantiles, exact to the digits given)
    np.testing.assert_allclose(half, [4.302652729911275 / np.sqrt(3), 0.0,
                                      12.706204736174698 * np.sqrt(2) / np.sqrt(2)], rtol=1e-6)


def test_learning_curve_from_metrics_csv(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "step,seed,episode_return,eval_return\n"
        "100,0,1.0,5.0\n100,1,1.0,7.0\n200,0,2.0,\n200,1,2.0,\n300,0,3.0,9.0\n300,1,3.0,11.0\n")
    steps, returns = figures.common_grid(run_reader.eval_curves(str(tmp_path)))
    np.testing.assert_array_equal(steps, [100, 300])
    np.testing.assert_array_equal(returns, [[5.0, 7.0], [9.0, 11.0]])
    out = figures.learning_curve(str(tmp_path))
    assert out.endswith("learning_curve.png") and (tmp_path / "learning_curve.png").stat().st_size > 0


def test_analysis_imports_neither_jax_nor_mujoco():
    code = ("import sys; import ofe_jax.analysis.report, ofe_jax.analysis.figures, ofe_jax.report;"
            " print(sorted(m for m in ('jax', 'mujoco') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


# Grouping. ------------------------------------------------------------------------------------

def test_grouping_pools_seeds_and_separates_variants_and_tasks(tmp_path):
    a = make_run(tmp_path / "a", _config(seed=0, seeds=2),
                 {0: [(100, 1.0), (200, 3.0)], 1: [(100, 2.0), (200, 5.0)]})
    b = make_run(tmp_path / "b", _config(seed=2, seeds=1), {2: [(100, 0.0), (200, 7.0)]})
    c = make_run(tmp_path / "c", _config(variant="dense"), {0: [(100, 10.0), (200, 20.0)]})
    d = make_run(tmp_path / "d", _config(task="Ant-v5"), {0: [(100, 4.0)]})
    e = make_run(tmp_path / "e", _config(algorithm="td3"), {0: [(100, 4.0)]})
    loaded = [run_reader.load_run(p) for p in (a, b, c, d, e)]
    groups = report.group_runs(loaded)
    keys = [(g["task"], g["algorithm"], g["variant"]) for g in groups]
    assert keys == [("Hopper-v5", "sac", "baseline"), ("Hopper-v5", "sac", "ojk21"),
                    ("Hopper-v5", "td3", "baseline"), ("Ant-v5", "sac", "baseline")]
    pooled = groups[0]
    assert sorted(pooled["seeds"]) == [0, 1, 2] and pooled["runs"] == [a, b]
    summary = report.group_statistics(pooled)
    assert summary["num_seeds"] == 3
    assert [p["final_return"] for p in summary["per_seed"]] == [3.0, 5.0, 7.0]
    assert summary["final_return"]["mean"] == pytest.approx(5.0)
    assert summary["final_return"]["iqm"] == pytest.approx(5.0)  # weights 1:4:1 of 3, 5, 7
    assert [p["auc"] for p in summary["per_seed"]] == pytest.approx([2.0, 3.5, 3.5])
    assert summary["auc"]["mean"] == pytest.approx(3.0)
    assert summary["steps_reached"] == {"min": 200, "max": 200}
    assert summary["ojk21_reference_gym_v2"] is None
    assert report.group_statistics(groups[1])["ojk21_reference_gym_v2"] == 3467


def test_grouping_splits_other_hyperparameters_and_counts_duplicate_seeds_once(tmp_path):
    a = make_run(tmp_path / "a", _config(seeds=1), {0: [(100, 1.0)]})
    b = make_run(tmp_path / "b", _config(seeds=1, **{"env.num_envs": 16}), {0: [(100, 2.0)]})
    c = make_run(tmp_path / "c", _config(seeds=1, eval_every=50), {0: [(100, 3.0), (200, 4.0)]})
    warnings = []
    groups = report.group_runs([run_reader.load_run(p) for p in (a, b, c)], warn=warnings.append)
    by_variant = {g["variant"]: g for g in groups}
    assert set(by_variant) == {"baseline [env.num_envs=1]", "baseline [env.num_envs=16]"}
    # a and c differ only in the evaluation schedule: pooled; both hold seed 0 -> counted once,
    # from the run that got further (c), with a warning.
    same = by_variant["baseline [env.num_envs=1]"]
    assert list(same["seeds"]) == [0] and same["seeds"][0]["run"] == c
    assert len(warnings) == 1 and "seed 0" in warnings[0]
    # Pooled seeds that end at different steps are reported.
    d = make_run(tmp_path / "d", _config(seed=5, seeds=1), {5: [(100, 1.0), (200, 2.0)]})
    warnings.clear()
    report.group_runs([run_reader.load_run(p) for p in (a, d)], warn=warnings.append)
    assert len(warnings) == 1 and "different steps" in warnings[0]


# Command line. --------------------------------------------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ofe_jax.report", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_cli_end_to_end(tmp_path):
    runs = tmp_path / "runs"
    rng = np.random.default_rng(0)
    curve = lambda scale: [(s, scale * s / 1000 + float(rng.normal())) for s in range(0, 1001,
                                                                                         250)]
    for task, ref in (("Hopper-v5", 3467), ("HalfCheetah-v5", 19210)):
        for variant, scale in (("mlp", 1000.0), ("dense", 2000.0)):
            for part, seeds in ((0, (0, 1)), (1, (2,))):  # two runs per config: pooled
                make_run(runs / f"paper_{task}_{variant}_{part}",
                         _config(task=task, variant=variant, seed=seeds[0], seeds=len(seeds)),
                         {s: curve(scale) for s in seeds})
        make_run(runs / f"paper_{task}_td3", _config(task=task, algorithm="td3"),
                 {0: curve(500.0)})
    out = tmp_path / "report"
    result = _cli("--runs", *sorted(str(p) for p in runs.glob("paper_*")), "--out", str(out))
    assert result.returncode == 0, result.stderr
    md = (out / "report.md").read_text()
    for number in ("3467", "19210", "3207", "18148"):
        assert number in md
    assert "Gym v2" in md and "v5" in md and "not directly comparable" in md
    assert "| ojk21 | 3 |" in md and "| baseline | 3 |" in md
    assert "### Hopper-v5 - SAC" in md and "### HalfCheetah-v5 - TD3" in md
    data = json.loads((out / "report.json").read_text())
    assert data["references"]["ojk21"]["gym_version"] == "v2"
    groups = {(g["task"], g["algorithm"], g["variant"]): g for g in data["groups"]}
    assert len(groups) == 6
    g = groups[("Hopper-v5", "sac", "ojk21")]
    assert g["num_seeds"] == 3 and g["ojk21_reference_gym_v2"] == 3467
    assert g["steps_reached"] == {"min": 1000, "max": 1000}
    assert g["final_return"]["ci95"][0] <= g["final_return"]["mean"] <= g["final_return"]["ci95"][1]
    assert abs(g["final_return"]["mean"] - 2000.0) < 5.0
    assert groups[("Hopper-v5", "sac", "baseline")]["ojk21_reference_gym_v2"] is None
    for task in ("Hopper-v5", "HalfCheetah-v5"):
        png = out / f"{task}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![{task}]({task}.png)" in md
    # A quoted glob is expanded by the report itself, with the same result.
    again = _cli("--runs", str(runs / "paper_*"), "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "report.md").read_text() == md


# Bad input. -----------------------------------------------------------------------------------

def _one_error_line(result):
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_cli_bad_input(tmp_path):
    good = make_run(tmp_path / "good", _config(), {0: [(100, 1.0)]})
    out = str(tmp_path / "out")
    # Not a run directory: a plain directory, a missing path, a file.
    (tmp_path / "empty").mkdir()
    assert "not a run directory" in _one_error_line(
        _cli("--runs", good, str(tmp_path / "empty"), "--out", out))
    assert "not a run directory" in _one_error_line(
        _cli("--runs", str(tmp_path / "missing"), "--out", out))
    assert "not a run directory" in _one_error_line(
        _cli("--runs", os.path.join(good, "metrics.csv"), "--out", out))
    # No runs matched.
    assert "no runs matched" in _one_error_line(
        _cli("--runs", str(tmp_path / "nothing_*"), "--out", out))
    # A run without any evaluation.
    make_run(tmp_path / "noeval", _config(), {})
    with open(tmp_path / "noeval" / "metrics.csv", "a") as f:
        f.write("100,0,1.0,10,1,\n")
    assert "no evaluation" in _one_error_line(
        _cli("--runs", good, str(tmp_path / "noeval"), "--out", out))
    # A config.json without the fields the report needs.
    make_run(tmp_path / "oldconfig", {"seed": 0}, {0: [(100, 1.0)]})
    assert "lacks the field" in _one_error_line(
        _cli("--runs", str(tmp_path / "oldconfig"), "--out", out))
    assert not os.path.exists(out)  # nothing written on bad input


def test_make_report_raises_report_error(tmp_path):
    with pytest.raises(ReportError, match="no runs matched"):
        report.make_report([str(tmp_path / "x*")], str(tmp_path / "out"))
