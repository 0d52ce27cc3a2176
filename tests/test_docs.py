"""The front door and the documentation: README.md is short and holds the commands that CI and
a new user run, verbatim; every results table in docs/ (and the README's figure caption) is what
benchmarks/tables/ renders from benchmarks/results/ today. No jax: well under a second.

After a new result: `python -m benchmarks.tables` and commit the pages with the JSON."""

import json
import os
import shutil
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import tables  # noqa: E402

INSTALL_AND_RUN = ("pip install -e . && python -m ofe_jax.main --config=configs/quickstart.py "
                   "--workdir=runs/quickstart")
INSTALL_AND_TEST = 'pip install -e ".[dev]" && python -m pytest -q'
README_MAX_LINES = 200


def _read(path: str) -> str:
    with open(os.path.join(REPO, path)) as f:
        return f.read()


def test_readme_is_short_and_holds_the_two_commands():
    readme = _read("README.md")
    assert len(readme.splitlines()) <= README_MAX_LINES
    assert INSTALL_AND_RUN in readme
    assert INSTALL_AND_TEST in readme
    ci = _read(".ci/run")
    assert INSTALL_AND_TEST in ci, "CI runs the README's test command verbatim"
    assert ci.index(INSTALL_AND_TEST) < ci.index("mkdocs build --strict"), \
        "the docs build runs after the tests"


def test_generated_pages_are_up_to_date():
    assert tables.stale() == [], "run `python -m benchmarks.tables` and commit the pages"


def test_every_table_names_its_file_machine_and_date():
    res = tables.Results(os.path.join(REPO, tables.RESULTS))
    for name, (files, render) in tables.TABLES.items():
        body = render(res)
        assert all(f"{tables.RESULTS}/{f}" in body or f"`{f}`" in body
                   for f in files if f.endswith(".json") and res.exists(f)), name
        if all(res.exists(f) for f in files if f.endswith(".json")) and \
                not name.startswith(("readme", "hopper")):
            assert "Source" in body and "2026-" in body, name


def _results_copy(tmp_path) -> str:
    """The tracked results files in a directory outside git (every file there counts)."""
    root = os.path.join(REPO, tables.RESULTS)
    out = tmp_path / "results"
    out.mkdir()
    for name in tables.Results(root).names():
        src = os.path.join(root, name)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, out / name)
    return str(out)


def test_a_changed_result_makes_its_page_stale(tmp_path):
    results = _results_copy(tmp_path)
    path = os.path.join(results, "quickstart_cpu.json")
    with open(path) as f:
        record = json.load(f)
    record["wall_s"] = 99.9
    with open(path, "w") as f:
        json.dump(record, f)
    stale = tables.stale(REPO, results)
    assert stale == [os.path.join("docs", "results", "speed.md")]
    speed = tables.render(REPO, results)[os.path.join(REPO, "docs", "results", "speed.md")]
    assert "| 99.9 s |" in speed


def test_the_hopper_run_is_rendered_once_committed(tmp_path):
    results = _results_copy(tmp_path)
    run = os.path.join(results, tables.HOPPER_RUN)
    shutil.rmtree(run, ignore_errors=True)  # the committed run, if any: this test writes its own
    if os.path.exists(f"{run}.png"):
        os.remove(f"{run}.png")
    caption = tables.TABLES["readme-figure-caption"][1]
    assert "not committed yet" in caption(tables.Results(results))
    os.makedirs(run, exist_ok=True)
    with open(os.path.join(run, "metrics.csv"), "w") as f:
        f.write("step,seed,eval_return,wall_s,grid\n"
                "500000,0,2000.0,1800.0,\n500000,1,3000.0,1800.0,\n"
                "1000000,0,3000.0,3600.0,\n1000000,1,3500.0,3600.0,\n")
    with open(os.path.join(run, "config.json"), "w") as f:
        json.dump({"env": {"name": "Hopper-v5"}, "total_steps": 1_000_000, "agent": {
            "name": "sac", "network": {"kind": "mlp", "units": 256, "layers": 2}}}, f)
    res = tables.Results(results)
    text = caption(res)
    assert "2 seed(s), 1,000,000 env steps" in text and "3,250" in text
    row = tables.TABLES["hopper-1m"][1](res)
    assert "| Hopper-v5, SAC mlp 256x2, of 1,000,000 steps | 1,000,000 | 2 | 3,250 | " \
        "3,000, 3,500 | 3,250 | 1.0 h |" in row
    assert "figures/" not in row  # no curve yet
    with open(os.path.join(run, "metrics.csv"), "w") as f:  # resumed at 500k: wall_s restarts
        f.write("step,seed,eval_return,wall_s,grid\n500000,0,2000.0,3600.0,\n"
                "1000000,0,3000.0,1800.0,\n")
    assert "| 1.5 h |" in tables.TABLES["hopper-1m"][1](tables.Results(results))
    with open(os.path.join(run, "metrics.csv"), "w") as f:
        f.write("step,seed,eval_return,wall_s,grid\n"
                "500000,0,2000.0,1800.0,\n500000,1,3000.0,1800.0,\n"
                "1000000,0,3000.0,3600.0,\n1000000,1,3500.0,3600.0,\n")
    open(os.path.join(results, f"{tables.HOPPER_RUN}.png"), "wb").close()
    assert f"figures/{tables.HOPPER_RUN}.png" in tables.TABLES["hopper-1m"][1](res)


def test_a_block_of_an_unknown_table_is_an_error(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(
        "<!-- generated: no-such-table (python -m benchmarks.tables) -->\n"
        "<!-- end: no-such-table -->\n")
    with pytest.raises(ValueError, match="no-such-table"):
        tables.render(str(tmp_path), os.path.join(REPO, tables.RESULTS))


def test_td3_cells_are_set_beside_their_sac_cells():
    """The plan table's TD3/SAC ratios, by hand: 1.1 GB / 1.0 GB, 90 / 100 kernels, 2.7 h / 3 h;
    a TD3 cell without its SAC cell (or not compiled) has no row."""
    from benchmarks.tables.gpu import _td3_against_sac

    def cell(mem_gb, kernels, hours, fit=None, compiled=True):
        return {"compiled": compiled, "peak_memory_bytes": mem_gb * 1e9, "fit_seeds": fit,
                "kernels_per_iteration": kernels, "projected_hours": hours}

    planned = {"h100": {"Hopper-v5,sac,mlp": cell(1.0, 100, 3.0, {"seeds": 50}),
                        "Hopper-v5,td3,mlp": cell(1.1, 90, 2.7, {"seeds": 45}),
                        "Ant-v5,td3,mlp": cell(2.0, 100, 5.0),
                        "Walker2d-v5,sac,mlp": cell(1.0, 100, 3.0),
                        "Walker2d-v5,td3,mlp": cell(1.0, 100, 3.0, compiled=False)}}
    text = _td3_against_sac(planned)
    assert "memory 1.100 to 1.100; kernels 0.900 to 0.900; hours 0.900 to 0.900" in text
    assert "| `Hopper-v5,td3,mlp` | H100 | 1.100 | 45 / 50 | 0.900 | 0.900 |" in text
    assert "Ant-v5" not in text and "Walker2d-v5" not in text
    assert _td3_against_sac({"h100": {"Hopper-v5,sac,mlp": cell(1.0, 100, 3.0)}}) == ""
