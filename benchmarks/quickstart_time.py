"""Wall time of the CPU quick start through the command line, compile included, and its eval
returns; optionally of several checkouts, alternately, in one run on the same machine.

    python -m benchmarks.quickstart_time --out benchmarks/results/quickstart_cpu.json
    python -m benchmarks.quickstart_time --checkouts OLD_DIR NEW_DIR --repeats 3 --out ...
    python -m benchmarks.quickstart_time --checkouts OLD NEW --repeats 1 \\
        --override=--config.total_steps=2000 --out /tmp/q.json        # a quick check

Each run is ``python -m ofe_jax.main --config=<--config> --workdir=<fresh temp dir>
[overrides]`` in a subprocess with ``cwd=<checkout>`` and ``PYTHONPATH=<checkout>`` (so the
checkout's own ofe_jax and configs/ are imported; each checkout's ofe_jax location is checked
first). Runs go round the checkouts in turn (old, new, old, new, ...) so that a change of the
background load hits all alike. Recorded per run: wall time from process start to exit (Python
start-up, imports, compilation, training, evaluation, the final plot), the CPU time of the
child, the eval returns from the run's metrics.csv (mean over the seeds per step), and the first
step whose eval return reached 1000 (the quick start's maximum); per checkout: the medians.
Without --checkouts the checkout is this one.
"""

from __future__ import annotations

import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

from benchmarks import common

MAX_RETURN = 1000.0  # InvertedPendulum-v5: 1 per step, 1000 steps


def checkout_env(checkout: str) -> dict:
    return {**os.environ, "PYTHONPATH": checkout}


def ofe_jax_location(checkout: str) -> str:
    """The ofe_jax package that a run in `checkout` imports; must lie inside the checkout."""
    out = subprocess.run([sys.executable, "-c", "import ofe_jax; print(ofe_jax.__file__)"],
                         cwd=checkout, env=checkout_env(checkout), capture_output=True,
                         text=True)
    path = os.path.realpath(out.stdout.strip()) if out.returncode == 0 else ""
    if not path.startswith(os.path.realpath(checkout) + os.sep):
        sys.exit(f"error: in {checkout} `import ofe_jax` gives {path or out.stderr[-500:]!r}, "
                 f"not the checkout's own package")
    return path


def eval_returns(workdir: str) -> list[list[float]]:
    """[[step, eval return (mean over the seeds)], ...] from the run's metrics.csv."""
    by_step = defaultdict(list)
    with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
        for row in csv.DictReader(f):
            if row["eval_return"]:
                by_step[int(row["step"])].append(float(row["eval_return"]))
    return [[step, statistics.mean(values)] for step, values in sorted(by_step.items())]


def last_steps_per_s(workdir: str) -> float | None:
    """The env steps/s per seed of the run's last log interval (mean over the seeds): the
    learning phase's speed, compile excluded, when the run ends in learning."""
    with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    last = [float(r["steps_per_s"]) for r in rows if r["step"] == rows[-1]["step"]
            and r.get("steps_per_s")]
    return statistics.mean(last) if last else None


def run_once(checkout: str, config: str, overrides: list[str]) -> dict:
    """One quick start in a subprocess; its figures, or its exit code and stderr tail."""
    workdir = os.path.join(tempfile.mkdtemp(prefix="quickstart_time-"), "run")
    command = [sys.executable, "-m", "ofe_jax.main", f"--config={config}",
               f"--workdir={workdir}", *overrides]
    load_1min = round(os.getloadavg()[0], 2)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=checkout, env=checkout_env(checkout),
                            capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = {"wall_s": round(wall, 2), "load_1min_before": load_1min,
           "child_cpu_s": round(after.ru_utime + after.ru_stime - children.ru_utime
                                - children.ru_stime, 1), "returncode": result.returncode}
    if result.returncode != 0:
        row["stderr_tail"] = result.stderr[-3000:]
    else:
        evals = eval_returns(workdir)
        row.update({"total_steps": evals[-1][0] if evals else None, "eval_returns": evals,
                    "final_eval_return": evals[-1][1] if evals else None,
                    "last_steps_per_s": last_steps_per_s(workdir),
                    "first_step_with_eval_1000": next(
                        (s for s, r in evals if r >= MAX_RETURN), None)})
    shutil.rmtree(os.path.dirname(workdir), ignore_errors=True)
    return row


def labels_for(checkouts: list[str]) -> list[str]:
    names = [os.path.basename(os.path.normpath(c)) or c for c in checkouts]
    return [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]


def summarise(runs: list[dict], labels: list[str]) -> dict:
    out = {}
    for label in labels:
        ok = [r for r in runs if r["checkout"] == label and r["returncode"] == 0]
        walls = [r["wall_s"] for r in ok]
        finals = [r["final_eval_return"] for r in ok if r["final_eval_return"] is not None]
        firsts = [r["first_step_with_eval_1000"] for r in ok]
        out[label] = {"runs": len(ok), "failed": sum(r["checkout"] == label and
                                                     r["returncode"] != 0 for r in runs),
                      "wall_s": walls, "median_wall_s": statistics.median(walls) if walls
                      else None, "final_eval_returns": finals,
                      "median_final_eval_return": statistics.median(finals) if finals else None,
                      "first_steps_with_eval_1000": firsts,
                      "last_steps_per_s": [r.get("last_steps_per_s") for r in ok]}
    return out


def main(argv: list[str] | None = None) -> dict:
    argv = common.default_argv(argv)
    parser = common.argument_parser(__doc__, "benchmarks/results/quickstart_cpu.json")
    parser.add_argument("--config", default="configs/quickstart.py",
                        help="config file, relative to each checkout")
    parser.add_argument("--checkouts", nargs="+", default=None, metavar="DIR",
                        help="checkouts to time, alternately (default: this one)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per checkout (default 1; 3 with --checkouts)")
    parser.add_argument("--override", action="append", default=[], metavar="FLAG",
                        help="extra flag for ofe_jax.main, repeatable, written with '=': "
                             "--override=--config.total_steps=2000")
    args = parser.parse_args(argv)
    checkouts = [os.path.abspath(c) for c in (args.checkouts or [common.REPO_ROOT])]
    repeats = args.repeats or (3 if args.checkouts else 1)
    labels = labels_for(checkouts)
    located = {label: ofe_jax_location(c) for label, c in zip(labels, checkouts)}
    run = common.Run("quickstart_time", argv, {
        "config": args.config, "overrides": args.override, "repeats": repeats,
        "order": "round robin over the checkouts, `repeats` rounds",
        "run_command": " ".join(["python", "-m", "ofe_jax.main", f"--config={args.config}",
                                 "--workdir=<temp dir>", *args.override]),
        "checkouts": [{"label": label, "path": c, "git": common.git_state(c),
                       "ofe_jax": located[label]} for label, c in zip(labels, checkouts)]})
    print(run.banner(f"{len(checkouts)} checkout(s) x {repeats} run(s)"), flush=True)
    runs = []
    for repeat in range(repeats):
        for label, checkout in zip(labels, checkouts):
            row = {"checkout": label, "repeat": repeat, **run_once(checkout, args.config,
                                                                   args.override)}
            runs.append(row)
            if row["returncode"] != 0:
                print(f"{label} run {repeat + 1}/{repeats}: FAILED (exit {row['returncode']})"
                      f"\n{row['stderr_tail'][-1500:]}", file=sys.stderr, flush=True)
                continue
            print(f"{label} run {repeat + 1}/{repeats}: {row['wall_s']:.1f} s wall, eval "
                  f"returns {[round(r) for _, r in row['eval_returns']]}", flush=True)
    summary = summarise(runs, labels)
    results = {"runs": runs, "summary": summary}
    medians = [summary[label]["median_wall_s"] for label in labels]
    if len(labels) == 2 and None not in medians:
        results["wall_ratio_second_over_first"] = medians[1] / medians[0]
    record = run.finish(results, "wall time of the whole command (subprocess start to exit), "
                                 "compile included; see the module docstring", args.note)
    common.write_json(args.out, record)
    for label in labels:
        s = summary[label]
        print(f"{label}: median {s['median_wall_s']} s wall over {s['runs']} run(s) "
              f"({s['failed']} failed); final eval returns {s['final_eval_returns']}")
    print(f"# wrote {args.out}")
    if any(r["returncode"] != 0 for r in runs):
        sys.exit(1)
    return record


if __name__ == "__main__":
    main()
