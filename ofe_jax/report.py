"""Results report over many runs: tables (markdown and JSON) and one learning-curve figure per task.

    python -m ofe_jax.report --runs runs/paper_* --out report/

Each run directory holds `config.json` (written by ofe_jax.experiment) and `metrics.csv` (one row
per seed per chunk; `eval_return` is filled where the run evaluated). Runs are grouped by
(task, algorithm, variant) and the seeds of all runs of a group are pooled. Per group and seed:

- final return: the seed's last evaluation return;
- AUC: the mean evaluation return over the run, i.e. the trapezoidal area under the seed's
  (step, eval_return) curve divided by its step span (last - first evaluated step); a seed with a
  single evaluation has that return as its AUC.

Across the seeds of a group: mean, IQM and the 95% percentile-bootstrap CI of the mean.

IQM convention (default "fractional"): the mean of the middle 50% of the sorted sample, each of
the n sorted values weighted by how much of its 1/n slice of the quantile axis lies within
[0.25, 0.75] -- the interquartile mean as defined in Agarwal et al. (2021, "Deep RL at the Edge
of the Statistical Precipice"), well defined for any n. The rliable library's code computes
scipy.stats.trim_mean(x, 0.25) instead (drops floor(n/4) values at each end, no fractional
weights); both agree when n is a multiple of 4. `iqm(x, convention="trim_mean")` and
`--iqm=trim_mean` give that one.

Variants: "ojk21" = OFENet + DenseNet MLP 2 x 2048 (configs/paper.py "dense"); "baseline" = MLP
256 x 2 without OFENet (configs/paper.py "mlp"); any other network is named by what it is, e.g.
"dense2048" (no OFENet), "mlp256+ofenet", "dense1024+ofenet", "mlp256x3". Runs of the same
(task, algorithm, variant) that differ in any other training hyperparameter are not pooled: each
setting becomes its own variant, suffixed with the differing fields, e.g. "baseline
[env.num_envs=16]".
"""

import argparse
import csv
import glob
import json
import math
import os
import sys

import numpy as np

from ofe_jax import plotting
from ofe_jax.config import flatten
from ofe_jax.plotting import plt

# Reference numbers. ---------------------------------------------------------------------------

# Ota, Jha & Kanezaki (2021), "Training Larger Networks for Deep Reinforcement Learning",
# arXiv:2102.07920: results table of their large-network method (OFENet + DenseNet MLPs), on
# OpenAI Gym **v2** MuJoCo tasks. Our tasks are Gymnasium v5 (different XML details, reward and
# termination terms, contact forces), so these are NOT directly comparable to our numbers.
OJK21_REFERENCE = {
    "citation": "Ota, Jha & Kanezaki (2021), Training Larger Networks for Deep Reinforcement "
                "Learning, arXiv:2102.07920 (results table, large-network method)",
    "gym_version": "v2",
    "comparable": False,  # our tasks are Gymnasium v5
    "returns": {
        "sac": {"Hopper": 3467, "Walker2d": 8802, "HalfCheetah": 19210, "Ant": 14021,
                "Humanoid": 14858},
        "td3": {"Hopper": 3207, "Walker2d": 7646, "HalfCheetah": 18148, "Ant": 12811,
                "Humanoid": 13282},
    },
}

# TODO(results): published 1M-step SAC results on Gymnasium/Gym v4 or v5 tasks, to be filled in
# once sourced (with citation, version and step count), in the form
#   {"citation": "...", "gym_version": "v4", "steps": 1_000_000,
#    "returns": {"sac": {"Hopper": ..., ...}}}
# Deliberately empty: no number here is to be entered without a source.
PUBLISHED_V4_V5_SAC_1M: dict = {}

# Report settings. -----------------------------------------------------------------------------

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
IQM_CONVENTIONS = ("fractional", "trim_mean")

TASK_ORDER = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5", "Humanoid-v5")
ALGORITHM_ORDER = ("sac", "td3")
VARIANT_ORDER = ("baseline", "ojk21")

# Config fields that do not change what is learned (evaluation schedule, bookkeeping, physics
# backend of the same v5 task) or that identify seeds / run length; runs differing only in these
# are pooled. Everything else that differs splits a group.
NOT_SPLITTING = ("seed", "seeds", "total_steps", "eval_every", "eval_episodes", "log_every",
                 "checkpoint_every", "keep_checkpoints", "env.backend")


class ReportError(RuntimeError):
    """A problem with the input, reported as one line; the command exits with code 1."""


# Statistics. ----------------------------------------------------------------------------------

def iqm(values, convention: str = "fractional") -> float:
    """Interquartile mean of a 1-D sample (see the module docstring for the two conventions)."""
    x = np.sort(np.asarray(values, dtype=float).ravel())
    n = len(x)
    if n == 0:
        raise ValueError("IQM of an empty sample")
    if convention == "trim_mean":
        cut = int(0.25 * n)  # scipy.stats.trim_mean(x, 0.25)
        return float(np.mean(x[cut:n - cut]))
    if convention != "fractional":
        raise ValueError(f"unknown IQM convention {convention!r}; use one of {IQM_CONVENTIONS}")
    lo = np.arange(n) / n
    weights = np.clip(np.minimum(lo + 1.0 / n, 0.75) - np.maximum(lo, 0.25), 0.0, None)
    return float(np.sum(weights * x) / np.sum(weights))


def bootstrap_ci(values, seed: int = BOOTSTRAP_SEED, resamples: int = BOOTSTRAP_RESAMPLES,
                 confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean: `resamples` resamples of the seeds
    with replacement, drawn with numpy's default_rng(seed); the (1 - confidence)/2 and
    (1 + confidence)/2 percentiles of the resampled means. One value gives (value, value)."""
    x = np.asarray(values, dtype=float).ravel()
    if len(x) == 0:
        raise ValueError("bootstrap CI of an empty sample")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    alpha = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(means, [alpha, 100.0 - alpha])
    return float(low), float(high)


def auc(steps, returns) -> float:
    """Mean evaluation return over the run: trapezoidal area under (steps, returns) divided by
    the step span. A single evaluation gives its return."""
    s = np.asarray(steps, dtype=float)
    r = np.asarray(returns, dtype=float)
    if len(s) == 0:
        raise ValueError("AUC of an empty curve")
    if len(s) == 1 or s[-1] == s[0]:
        return float(r[-1])
    area = np.sum((s[1:] - s[:-1]) * (r[1:] + r[:-1]) / 2.0)
    return float(area / (s[-1] - s[0]))


def summarize(values, iqm_convention: str = "fractional", seed: int = BOOTSTRAP_SEED,
              resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    low, high = bootstrap_ci(values, seed=seed, resamples=resamples)
    return {"mean": float(np.mean(values)), "iqm": iqm(values, iqm_convention),
            "ci95": [low, high]}


# Loading runs. --------------------------------------------------------------------------------

def variant_label(agent: dict) -> str:
    """"ojk21", "baseline" or a descriptive name of the network (see the module docstring)."""
    network, ofenet = agent["network"], agent.get("ofenet", {})
    kind, units = network["kind"], int(network["units"])
    layers = int(network.get("layers", 2))
    enabled = bool(ofenet.get("enabled", False))
    if enabled and kind == "dense" and (units, layers) == (2048, 2):
        return "ojk21"
    if not enabled and kind == "mlp" and (units, layers) == (256, 2):
        return "baseline"
    return f"{kind}{units}" + (f"x{layers}" if layers != 2 else "") + ("+ofenet" if enabled
                                                                        else "")


def _read_config(run: str) -> dict:
    path = os.path.join(run, "config.json")
    try:
        with open(path) as f:
            config = json.load(f)
        task = config["env"]["name"]
        algorithm = config["agent"]["name"]
        variant = variant_label(config["agent"])
    except (OSError, ValueError) as e:
        raise ReportError(f"{path} is unreadable: {e}") from e
    except (KeyError, TypeError) as e:
        raise ReportError(f"{path} lacks the field {e} (env.name, agent.name, "
                          f"agent.network.kind/units, agent.ofenet.enabled)") from e
    return {"config": config, "task": str(task), "algorithm": str(algorithm),
            "variant": variant}


def _read_evals(run: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """seed -> (steps, eval returns), sorted by step, from the rows that hold an evaluation."""
    path = os.path.join(run, "metrics.csv")
    table: dict[int, dict[int, float]] = {}
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"step", "seed", "eval_return"} - set(reader.fieldnames or ())
            if missing:
                raise ReportError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
            for line, row in enumerate(reader, start=2):
                value = (row["eval_return"] or "").strip()
                if not value:
                    continue
                try:
                    step, seed, ret = int(row["step"]), int(row["seed"]), float(value)
                except (TypeError, ValueError) as e:
                    raise ReportError(f"{path}, line {line}: unreadable row ({e})") from e
                if math.isfinite(ret):
                    table.setdefault(seed, {})[step] = ret
    except OSError as e:
        raise ReportError(f"{path} is unreadable: {e.strerror or e}") from e
    if not table:
        raise ReportError(f"run {run!r} has no evaluation yet (no eval_return in "
                          f"metrics.csv)")
    out = {}
    for seed, by_step in table.items():
        steps = np.array(sorted(by_step))
        out[seed] = (steps, np.array([by_step[s] for s in steps]))
    return out


def load_run(run: str) -> dict:
    """One run directory: its config-derived identity and its evaluation curves per seed."""
    if not os.path.isdir(run):
        raise ReportError(f"{run!r} is not a run directory (not a directory)")
    for name in ("config.json", "metrics.csv"):
        if not os.path.isfile(os.path.join(run, name)):
            raise ReportError(f"{run!r} is not a run directory (no {name})")
    info = _read_config(run)
    info["path"] = run
    info["curves"] = _read_evals(run)
    return info


def expand_runs(patterns: list[str]) -> list[str]:
    """Paths and glob patterns (expanded here too, for quoted or unmatched shell globs) ->
    distinct paths, in order. An argument that matches nothing is an error."""
    runs, seen = [], set()
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise ReportError(f"no runs matched {pattern!r}")
        for path in matches:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                runs.append(path)
    if not runs:
        raise ReportError("no runs given")
    return runs


# Grouping. ------------------------------------------------------------------------------------

def _setting(config: dict) -> dict:
    """The config fields that split groups (everything not in NOT_SPLITTING; OFENet fields only
    where OFENet is enabled)."""
    flat = flatten(config)
    ofenet_on = bool(flat.get("agent.ofenet.enabled", False))
    return {k: v for k, v in flat.items()
            if k not in NOT_SPLITTING
            and (ofenet_on or not k.startswith("agent.ofenet.") or k == "agent.ofenet.enabled")}


def _order(value: str, order: tuple) -> tuple:
    return (order.index(value), "") if value in order else (len(order), value)


def group_runs(runs: list[dict], warn=None) -> list[dict]:
    """Pools the seeds of runs with the same (task, algorithm, variant). A seed id found in two
    runs of a group is counted once (the run that got further wins) with a warning."""
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    base: dict[tuple, list[dict]] = {}
    for run in runs:
        base.setdefault((run["task"], run["algorithm"], run["variant"]), []).append(run)
    keyed: dict[tuple, list[dict]] = {}
    for (task, algorithm, variant), members in base.items():
        settings = [_setting(r["config"]) for r in members]
        keys = set().union(*settings)
        differ = sorted(k for k in keys if len({json.dumps(s.get(k), sort_keys=True)
                                                for s in settings}) > 1)
        for run, setting in zip(members, settings):
            label = variant
            if differ:
                label += " [" + ", ".join(f"{k}={setting.get(k)}" for k in differ) + "]"
            keyed.setdefault((task, algorithm, label), []).append(run)
    groups = []
    for (task, algorithm, variant), members in keyed.items():
        seeds: dict[int, dict] = {}
        for run in members:
            for seed, (steps, returns) in run["curves"].items():
                if seed in seeds:
                    other = seeds[seed]
                    warn(f"seed {seed} of {task} {algorithm} {variant} appears in both "
                         f"{other['run']!r} and {run['path']!r}; counted once")
                    if steps[-1] <= other["steps"][-1]:
                        continue
                seeds[seed] = {"run": run["path"], "steps": steps, "returns": returns}
        ends = sorted({int(c["steps"][-1]) for c in seeds.values()})
        if len(ends) > 1:
            warn(f"the seeds of {task} {algorithm} {variant} end at different steps "
                 f"({ends[0]:,} to {ends[-1]:,}); their final returns are not at a common step")
        groups.append({"task": task, "algorithm": algorithm, "variant": variant,
                       "runs": [r["path"] for r in members],
                       "total_steps": sorted({int(r["config"].get("total_steps", 0))
                                              for r in members}),
                       "seeds": dict(sorted(seeds.items()))})
    groups.sort(key=lambda g: (_order(g["task"], TASK_ORDER),
                               _order(g["algorithm"], ALGORITHM_ORDER),
                               _order(g["variant"].split(" [")[0], VARIANT_ORDER), g["variant"]))
    return groups


def reference_return(task: str, algorithm: str):
    """OJK21's (Gym v2) number for a task such as "Hopper-v5", or None."""
    return OJK21_REFERENCE["returns"].get(algorithm, {}).get(task.split("-v")[0])


def group_statistics(group: dict, iqm_convention: str = "fractional",
                     seed: int = BOOTSTRAP_SEED, resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    per_seed = []
    for s, curve in group["seeds"].items():
        per_seed.append({"seed": s, "run": curve["run"],
                         "final_return": float(curve["returns"][-1]),
                         "auc": auc(curve["steps"], curve["returns"]),
                         "last_step": int(curve["steps"][-1]),
                         "evaluations": len(curve["steps"])})
    finals = [p["final_return"] for p in per_seed]
    aucs = [p["auc"] for p in per_seed]
    last = [p["last_step"] for p in per_seed]
    return {"task": group["task"], "algorithm": group["algorithm"],
            "variant": group["variant"], "runs": group["runs"],
            "num_seeds": len(per_seed),
            "final_return": summarize(finals, iqm_convention, seed, resamples),
            "auc": summarize(aucs, iqm_convention, seed, resamples),
            "steps_reached": {"min": min(last), "max": max(last)},
            "total_steps": group["total_steps"],
            "ojk21_reference_gym_v2": (reference_return(group["task"], group["algorithm"])
                                       if group["variant"] == "ojk21" else None),
            "per_seed": per_seed}


# Outputs. -------------------------------------------------------------------------------------

def _num(x: float) -> str:
    return f"{x:.1f}"


def _steps(stats: dict) -> str:
    lo, hi = stats["steps_reached"]["min"], stats["steps_reached"]["max"]
    text = f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"
    planned = max(stats["total_steps"]) if stats["total_steps"] else 0
    return text + (f" of {planned:,}" if planned and lo < planned else "")


def write_markdown(path: str, stats: list[dict], figures: dict[str, str], meta: dict) -> None:
    lines = ["# Results report", ""]
    lines += [(f"{meta['num_runs']} run(s), {len(stats)} group(s). Seeds of runs with the same "
               "task, algorithm and variant are pooled."), ""]
    iqm_text = ("middle 50% with fractional weights at the quartiles"
                if meta["iqm_convention"] == "fractional" else "scipy.stats.trim_mean(x, 0.25)")
    if PUBLISHED_V4_V5_SAC_1M:
        published_note = (f"- Published 1M-step SAC results on v4/v5: "
                          f"{PUBLISHED_V4_V5_SAC_1M['citation']}.")
    else:
        published_note = ("- Published 1M-step SAC results on v4/v5: not sourced yet "
                          "(`PUBLISHED_V4_V5_SAC_1M` in `ofe_jax/report.py`).")
    notes = [
        ("- **final**: each seed's last evaluation return; **AUC**: each seed's mean evaluation "
         "return over the run (trapezoidal over env steps, divided by the step span)."),
        (f"- **IQM**: interquartile mean over seeds, convention `{meta['iqm_convention']}` "
         f"({iqm_text})."),
        (f"- **95% CI**: percentile bootstrap of the mean over seeds, {meta['resamples']:,} "
         f"resamples, RNG seed {meta['bootstrap_seed']} (zero width with one seed)."),
        ("- **steps reached**: env step of the last evaluation (range over seeds; \"of N\" "
         "where the run was planned longer)."),
        (f"- **OJK21 (Gym v2)**: {OJK21_REFERENCE['citation']}. Those numbers are on OpenAI Gym "
         "**v2** tasks; ours are Gymnasium **v5**: not directly comparable."),
        published_note,
        ("- Figures: mean over seeds and 95% t-interval of the mean "
         "(`ofe_jax.plotting.mean_and_ci`)."),
        "",
    ]
    lines += notes
    tasks = list(dict.fromkeys(s["task"] for s in stats))
    for task in tasks:
        lines += [f"## {task}", ""]
        if task in figures:
            lines += [f"![{task}]({os.path.basename(figures[task])})", ""]
        for algorithm in dict.fromkeys(s["algorithm"] for s in stats if s["task"] == task):
            rows = [s for s in stats if s["task"] == task and s["algorithm"] == algorithm]
            ref = reference_return(task, algorithm)
            published = (PUBLISHED_V4_V5_SAC_1M.get("returns", {}).get(algorithm, {})
                         .get(task.split("-v")[0]))
            lines += [f"### {task} - {algorithm.upper()}", ""]
            lines += [f"OJK21 reference (Gym v2, large network, {algorithm.upper()}): "
                      f"{ref if ref is not None else 'none'}"
                      + (f"; published v4/v5 1M-step: {published}" if published is not None
                         else ""), ""]
            lines += [("| variant | seeds | final mean | final IQM | final 95% CI | AUC mean | "
                       "steps reached | OJK21 (Gym v2) |"),
                      "|---|---:|---:|---:|---|---:|---|---:|"]
            for s in rows:
                f, a = s["final_return"], s["auc"]
                shown_ref = s["ojk21_reference_gym_v2"]
                lines.append(
                    f"| {s['variant']} | {s['num_seeds']} | {_num(f['mean'])} | "
                    f"{_num(f['iqm'])} | [{_num(f['ci95'][0])}, {_num(f['ci95'][1])}] | "
                    f"{_num(a['mean'])} | {_steps(s)} | "
                    f"{shown_ref if shown_ref is not None else '-'} |")
            lines.append("")
            for s in rows:
                finals = ", ".join(f"{p['seed']}: {_num(p['final_return'])}"
                                   for p in s["per_seed"])
                lines.append(f"- {s['variant']}, final return per seed: {finals}")
            lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def _common_grid(seeds: dict) -> tuple[np.ndarray, np.ndarray]:
    """Curves of all seeds on the union of their eval steps ([T], [T, seeds]); a seed is
    interpolated linearly between its own evaluations and NaN outside them."""
    grid = np.unique(np.concatenate([c["steps"] for c in seeds.values()]))
    columns = []
    for c in seeds.values():
        col = np.interp(grid, c["steps"], c["returns"])
        col[(grid < c["steps"][0]) | (grid > c["steps"][-1])] = np.nan
        columns.append(col)
    return grid, np.stack(columns, axis=1)


def plot_task(path: str, task: str, groups: list[dict]) -> str:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    variants = list(dict.fromkeys(g["variant"] for g in groups))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = {"sac": "-", "td3": "--"}
    for g in groups:
        steps, returns = _common_grid(g["seeds"])
        mean, half = plotting.mean_and_ci(returns)
        color = colors[variants.index(g["variant"]) % len(colors)]
        ax.plot(steps, mean, styles.get(g["algorithm"], ":"), color=color,
                label=f"{g['algorithm'].upper()} {g['variant']} (n={returns.shape[1]})")
        ax.fill_between(steps, mean - half, mean + half, color=color, alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(f"{task}: mean and 95% CI over seeds")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _safe_name(task: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in task)


def make_report(run_args: list[str], out: str, iqm_convention: str = "fractional",
                bootstrap_seed: int = BOOTSTRAP_SEED,
                resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, str | list[str]]:
    """Reads the runs, writes report.md, report.json and <task>.png under `out`; returns the
    written paths. Raises ReportError on bad input."""
    if iqm_convention not in IQM_CONVENTIONS:
        raise ReportError(f"unknown IQM convention {iqm_convention!r}; use one of "
                          f"{list(IQM_CONVENTIONS)}")
    if resamples < 1:
        raise ReportError("--resamples must be at least 1")
    paths = expand_runs(run_args)
    runs = [load_run(p) for p in paths]
    groups = group_runs(runs)
    stats = [group_statistics(g, iqm_convention, bootstrap_seed, resamples) for g in groups]
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise ReportError(f"cannot create --out {out!r}: {e.strerror or e}") from e
    figures = {}
    for task in dict.fromkeys(g["task"] for g in groups):
        figures[task] = plot_task(os.path.join(out, f"{_safe_name(task)}.png"), task,
                                  [g for g in groups if g["task"] == task])
    meta = {"num_runs": len(runs), "iqm_convention": iqm_convention,
            "bootstrap_seed": bootstrap_seed, "resamples": resamples}
    md = os.path.join(out, "report.md")
    write_markdown(md, stats, figures, meta)
    js = os.path.join(out, "report.json")
    with open(js, "w") as f:
        json.dump({"statistics": {
                       "final_return": "last evaluation return per seed",
                       "auc": "trapezoidal area under (step, eval_return) / step span, per seed",
                       "iqm_convention": iqm_convention,
                       "ci95": {"method": "percentile bootstrap of the mean over seeds",
                                "resamples": resamples, "rng_seed": bootstrap_seed,
                                "rng": "numpy.random.default_rng"},
                       "figure_ci": "95% t-interval of the mean (ofe_jax.plotting.mean_and_ci)"},
                   "references": {"ojk21": OJK21_REFERENCE,
                                  "published_v4_v5_sac_1m": PUBLISHED_V4_V5_SAC_1M or None},
                   "runs": paths,
                   "figures": figures,
                   "groups": stats}, f, indent=2)
    return {"markdown": md, "json": js, "figures": list(figures.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ofe_jax.report",
        description="Tables (report.md, report.json) and per-task learning curves over runs.")
    parser.add_argument("--runs", nargs="+", required=True, metavar="WORKDIR",
                        help="run directories or glob patterns (config.json + metrics.csv)")
    parser.add_argument("--out", default="report", help="output directory (default: report)")
    parser.add_argument("--iqm", choices=IQM_CONVENTIONS, default="fractional",
                        help="IQM convention (default: fractional)")
    parser.add_argument("--bootstrap-seed", type=int, default=BOOTSTRAP_SEED,
                        help=f"RNG seed of the bootstrap (default: {BOOTSTRAP_SEED})")
    parser.add_argument("--resamples", type=int, default=BOOTSTRAP_RESAMPLES,
                        help=f"bootstrap resamples (default: {BOOTSTRAP_RESAMPLES})")
    args = parser.parse_args(argv)
    try:
        written = make_report(args.runs, args.out, args.iqm, args.bootstrap_seed,
                              args.resamples)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for path in [written["markdown"], written["json"], *written["figures"]]:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
