"""Results report over many runs: tables (markdown and JSON) and one learning-curve figure per
task, with the published reference rows beside ours.

    python -m ofe_jax.report --runs runs/paper_* --out report/

Runs are read by `runs.load_run` and grouped by (task, algorithm, variant); the seeds of all runs
of a group are pooled. Per group and seed:

- final return: the seed's last evaluation return;
- AUC: the mean evaluation return over the run, i.e. the trapezoidal area under the seed's
  (step, eval_return) curve divided by its step span (last - first evaluated step); a seed with a
  single evaluation has that return as its AUC.

Across the seeds of a group: mean, IQM and the 95% percentile-bootstrap CI of the mean
(`stats.py`). Runs of the same (task, algorithm, variant) that differ in any other training
hyperparameter are not pooled: each setting becomes its own variant, suffixed with the differing
fields, e.g. "baseline [env.num_envs=16]".
"""

import json
import os
import sys

from ofe_jax.analysis import figures, runs
from ofe_jax.analysis.stats import (BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, IQM_CONVENTIONS, auc,
                                    summarize)
from ofe_jax.config import flatten
from ofe_jax.errors import ReportError

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

# Published rows beside ours: mean final evaluation return at 1M env steps on Gym **v4** MuJoCo
# tasks, computed from each project's own result file (mean over seeds at the evaluation closest
# to 1M steps; rows "avg_return" of the CSVs), checked at the commits cited. Gym v4 differs from
# our Gymnasium v5 (observations, contact forces, reward details): a guide, not a like-for-like
# comparison.
_SIMBAV2 = "dojeon-ai/SimbaV2@14fafb27e6f78f0b65d19b8873b4433547a2193c"
PUBLISHED = [
    {"name": "SAC", "algorithm": "sac", "gym_version": "v4", "steps": 1_000_000, "seeds": 10,
     "returns": {"Humanoid": 4826, "Ant": 5734, "HalfCheetah": 11321, "Hopper": 2787,
                 "Walker2d": 4536},
     "source": f"{_SIMBAV2}:results/baseline/sac.csv (evaluation at step 999,960)"},
    {"name": "CrossQ", "algorithm": "crossq", "gym_version": "v4", "steps": 1_000_000,
     "seeds": 10, "returns": {"Humanoid": 10480, "Ant": 6980, "HalfCheetah": 12893,
                              "Hopper": 2467, "Walker2d": 6257},
     "source": f"{_SIMBAV2}:results/baseline/crossq.csv"},
    {"name": "SimbaV2 (UTD 2)", "algorithm": "sac", "gym_version": "v4", "steps": 1_000_000,
     "seeds": 10, "returns": {"Humanoid": 10546, "Ant": 7429, "HalfCheetah": 12022,
                              "Hopper": 4054, "Walker2d": 6938},
     "source": f"{_SIMBAV2}:results/simbaV2_utd2.csv"},
    {"name": "FlashSAC", "algorithm": "sac", "gym_version": "v4", "steps": 1_000_000,
     "seeds": 5, "returns": {"Humanoid": 12606, "Ant": 7590, "HalfCheetah": 14465,
                             "Hopper": 4064, "Walker2d": 7346},
     "source": "Holiday-Robot/FlashSAC@87edc9061150ae9e962dd84e6544e27a1554b3ab:"
               "results/stateRL_cpusim/FlashSAC.csv (arXiv 2604.04539; 50 eval episodes)"},
]

# Report settings. -----------------------------------------------------------------------------

TASK_ORDER = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5", "Humanoid-v5")
ALGORITHM_ORDER = ("sac", "td3", "crossq")
VARIANT_ORDER = ("baseline", "ojk21-networks", "ojk21", "hl_gauss", "simba", "crossq", "bf16")

# Config fields that do not change what is learned (evaluation schedule, bookkeeping, physics
# backend of the same v5 task) or that identify seeds / run length; runs differing only in these
# are pooled. Everything else that differs splits a group.
NOT_SPLITTING = ("seed", "seeds", "total_steps", "eval_every", "eval_episodes", "log_every",
                 "checkpoint_every", "keep_checkpoints", "env.backend")


# Grouping. ------------------------------------------------------------------------------------

def _setting(config: dict) -> dict:
    """The config fields that split groups (everything not in NOT_SPLITTING; OFENet fields only
    where OFENet is enabled)."""
    flat = flatten(config)
    ofenet_on = bool(flat.get("agent.ofenet.enabled", False))
    return {k: v for k, v in flat.items()
            if k not in NOT_SPLITTING and not k.startswith("grid.")  # points: in the label
            and (ofenet_on or not k.startswith("agent.ofenet.") or k == "agent.ofenet.enabled")}


def _order(value: str, order: tuple) -> tuple:
    return (order.index(value), "") if value in order else (len(order), value)


def group_runs(loaded: list[dict], warn=None) -> list[dict]:
    """Pools the seeds of runs with the same (task, algorithm, variant). A seed id found in two
    runs of a group is counted once (the run that got further wins) with a warning."""
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    base: dict[tuple, list[dict]] = {}
    for run in loaded:
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


def write_markdown(path: str, stats: list[dict], pictures: dict[str, str], meta: dict) -> None:
    lines = ["# Results report", ""]
    lines += [(f"{meta['num_runs']} run(s), {len(stats)} group(s). Seeds of runs with the same "
               "task, algorithm and variant are pooled."), ""]
    iqm_text = ("middle 50% with fractional weights at the quartiles"
                if meta["iqm_convention"] == "fractional" else "scipy.stats.trim_mean(x, 0.25)")
    published_note = ("- **Published (Gym v4, 1M steps)**: each project's own result file "
                      "(sources below each task's table); Gym v4, not our v5.")
    notes = [
        ("- **Ours**: the tables under each \"our runs\" heading are this project's runs "
         "(Gymnasium v5; step budget under \"steps reached\"); the rows under \"Published "
         "rows\" are other work's, each with its Gym version, step budget and source."),
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
         "(`ofe_jax.analysis.stats.mean_and_ci`)."),
        "",
    ]
    lines += notes
    tasks = list(dict.fromkeys(s["task"] for s in stats))
    for task in tasks:
        lines += [f"## {task}", ""]
        if task in pictures:
            lines += [f"![{task}]({os.path.basename(pictures[task])})", ""]
        for algorithm in dict.fromkeys(s["algorithm"] for s in stats if s["task"] == task):
            rows = [s for s in stats if s["task"] == task and s["algorithm"] == algorithm]
            ref = reference_return(task, algorithm)
            lines += [f"### {task} - {algorithm.upper()}: our runs (Gymnasium v5)", ""]
            lines += [f"OJK21 reference (Gym v2, large network, {algorithm.upper()}, step "
                      f"budget not stated): {ref if ref is not None else 'none'}", ""]
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
        lines += published_rows(task)
    with open(path, "w") as f:
        f.write("\n".join(lines))


def published_rows(task: str) -> list[str]:
    """The task's published rows as a markdown table (empty for tasks they do not cover)."""
    name = task.split("-v")[0]
    rows = [p for p in PUBLISHED if name in p["returns"]]
    ojk21 = [(a, OJK21_REFERENCE["returns"][a].get(name)) for a in ("sac", "td3")]
    if not rows and not any(v for _, v in ojk21):
        return []
    lines = [f"Published rows for {name} (not run here):", "",
             "| row | Gym | env steps | seeds | return | source |", "|---|---|---:|---:|---:|---|"]
    for algorithm, value in ojk21:
        if value is not None:
            lines.append(f"| OJK21 {algorithm.upper()} | v2 | not stated | - | {value} | "
                         f"{OJK21_REFERENCE['citation']} |")
    for p in rows:
        lines.append(f"| {p['name']} | {p['gym_version']} | {p['steps']:,} | {p['seeds']} | "
                     f"{p['returns'][name]} | {p['source']} |")
    return lines + [""]


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
    paths = runs.expand_runs(run_args)
    loaded = [unit for p in paths for unit in runs.load_runs(p)]
    groups = group_runs(loaded)
    stats = [group_statistics(g, iqm_convention, bootstrap_seed, resamples) for g in groups]
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise ReportError(f"cannot create --out {out!r}: {e.strerror or e}") from e
    written = {}
    for task in dict.fromkeys(g["task"] for g in groups):
        written[task] = figures.task_figure(os.path.join(out, f"{_safe_name(task)}.png"), task,
                                            [g for g in groups if g["task"] == task])
    meta = {"num_runs": len(loaded), "iqm_convention": iqm_convention,
            "bootstrap_seed": bootstrap_seed, "resamples": resamples}
    md = os.path.join(out, "report.md")
    write_markdown(md, stats, written, meta)
    js = os.path.join(out, "report.json")
    with open(js, "w") as f:
        json.dump({"statistics": {
                       "final_return": "last evaluation return per seed",
                       "auc": "trapezoidal area under (step, eval_return) / step span, per seed",
                       "iqm_convention": iqm_convention,
                       "ci95": {"method": "percentile bootstrap of the mean over seeds",
                                "resamples": resamples, "rng_seed": bootstrap_seed,
                                "rng": "numpy.random.default_rng"},
                       "figure_ci": "95% t-interval of the mean (ofe_jax.analysis.stats.mean_and_ci)"},
                   "references": {"ojk21": OJK21_REFERENCE, "published": PUBLISHED},
                   "runs": paths,
                   "figures": written,
                   "groups": stats}, f, indent=2)
    return {"markdown": md, "json": js, "figures": list(written.values())}


