"""Learning tables: the Hopper-v5 1M-step run (the README's figure), learning against
peers, the post-2021 variants."""

from __future__ import annotations

import csv
import json
import os
import re
import statistics

from benchmarks.tables.base import (HOPPER_RUN, RESULTS, Results, date_of, machine_of,  # noqa: F401
                                    md_table, num, other_share, pct, source, table)


def hopper_summary(res: Results) -> dict | None:
    """Final and best evaluation of the committed Hopper-v5 1M-step run, from its metrics.csv
    (None while the run is not committed)."""
    metrics = f"{HOPPER_RUN}/metrics.csv"
    if not res.exists(metrics):
        return None
    rows = [r for r in res.csv(metrics) if r.get("eval_return") not in (None, "")]
    if not rows:
        return None
    last = max(int(r["step"]) for r in rows)
    final = [float(r["eval_return"]) for r in rows if int(r["step"]) == last]
    means = {}
    for r in rows:
        means.setdefault(int(r["step"]), []).append(float(r["eval_return"]))
    optional = lambda name: res.json(name) if res.exists(name) else {}
    config, header = optional(f"{HOPPER_RUN}/config.json"), optional(f"{HOPPER_RUN}/run.json")
    walls = [float(r["wall_s"]) for r in res.csv(metrics) if r.get("wall_s") not in (None, "")]
    # wall_s restarts at 0 when a run resumes: the segments' last values add up.
    walls = [sum(a for a, b in zip(walls, walls[1:]) if b < a) + walls[-1]] if walls else []
    return {"step": last, "seeds": len(final), "final": final, "mean": statistics.mean(final),
            "best_mean": max(statistics.mean(v) for v in means.values()),
            "wall_s": max(walls) if walls else None, "config": config, "header": header}


def hopper_source(s: dict) -> str:
    where = (f"{machine_of(s['header'])}; {date_of(s['header'])}" if s["header"] else
             "machine and date not recorded in the run's files")
    return (f"*Source: `{RESULTS}/{HOPPER_RUN}/metrics.csv` (config: "
            f"`{RESULTS}/{HOPPER_RUN}/config.json`); {where}.*")


@table("readme-figure-caption", f"{HOPPER_RUN}/metrics.csv")
def readme_caption(res: Results) -> str:
    s = hopper_summary(res)
    if s is None:
        return (f"*SAC (MLP 256x2) on Hopper-v5 for 1M env steps on a 2-core CPU: the run is in "
                f"progress; its curve and `{RESULTS}/{HOPPER_RUN}/metrics.csv` are not "
                f"committed yet.*")
    return (f"*SAC (MLP 256x2) on Hopper-v5, {s['seeds']} seed(s), {s['step']:,} env steps: "
            f"final deterministic evaluation return {num(s['mean'])} (mean over seeds), best "
            f"{num(s['best_mean'])}{hopper_reference(res)}. " + hopper_source(s)[1:])


HOPPER_REFERENCE = f"{HOPPER_RUN}/simbav2_sac_hopper_v4.csv"


def hopper_reference(res: Results) -> str:
    """The published SAC curve's mean at its last step (<= 1M), from the committed extract."""
    if not res.exists(HOPPER_REFERENCE):
        return ""
    with open(res.path(HOPPER_REFERENCE), newline="") as f:
        source = f.readline().lstrip("# ").strip()
        rows = list(csv.DictReader(f))
    last = max(int(r["env_step"]) for r in rows)
    final = [float(r["avg_return"]) for r in rows if int(r["env_step"]) == last]
    return (f"; in grey the published SAC curve beside it, {num(statistics.mean(final))} at "
            f"{last:,} steps (mean of {len(final)} seeds; {source}, extracted to "
            f"`{RESULTS}/{HOPPER_REFERENCE}`)")


@table("hopper-1m", f"{HOPPER_RUN}/metrics.csv", f"{HOPPER_RUN}/config.json")
def hopper_1m(res: Results) -> str:
    s = hopper_summary(res)
    if s is None:
        return (f"*Not yet committed: `{RESULTS}/{HOPPER_RUN}/metrics.csv` (SAC 256x2 on "
                f"Hopper-v5, 1M env steps, CPU). The row appears here when it is.*")
    seeds = ", ".join(num(x) for x in s["final"])
    try:
        c, n = s["config"], s["config"]["agent"]["network"]
        label = (f"{c['env']['name']}, {c['agent']['name'].upper()} {n['kind']} "
                 f"{n['units']}x{n['layers']}, of {c['total_steps']:,} steps")
    except (KeyError, TypeError):  # no config.json, or another layout
        label = "Hopper-v5, SAC 256x2"
    image = (f"\n\n![Hopper-v5 learning curve](figures/{HOPPER_RUN}.png)"
             if res.exists(f"{HOPPER_RUN}.png") else "")
    return (md_table(["run", "env steps", "seeds", "final return (mean)", "per seed",
                      "best mean", "wall time (wall_s, summed over resumes)"],
                     [[label, f"{s['step']:,}", s["seeds"], num(s["mean"]),
                       seeds, num(s["best_mean"]),
                       "—" if s["wall_s"] is None else f"{s['wall_s'] / 3600:.1f} h"]],
                     {1, 2, 3, 5, 6}) + "\n\n" + hopper_source(s) + image)


@table("learn-vs-peers", "learn_vs_peers_cpu.json")
def learn_vs_peers(res: Results) -> str:
    r = res.json("learn_vs_peers_cpu.json")
    p, rows = r["parameters"], []
    for lib, s in r["results"].items():
        ci = s["bootstrap_ci95"]
        version = r["versions"].get("sbx-rl") if lib == "sbx" else r["versions"].get("ofe_jax")
        rows.append([f"{lib} {version}", num(s["mean"]), f"[{num(ci[0])}, {num(ci[1])}]",
                     ", ".join(num(x) for x in s["per_seed_mean"]),
                     f"{num(s['train_wall_s'])} s ({s['seeds_trained']})"])
    return (md_table(["library", "final return, mean", "95% CI (bootstrap)", "per seed",
                      "training wall time"], rows, {1})
            + f"\n\n{p['task']}, SAC 256x2, {p['steps']:,} env steps ({p['random_steps']:,} "
              f"random), {p['seeds']} seeds; final deterministic return over {p['episodes']} "
              f"Gymnasium episodes per seed. " + source("learn_vs_peers_cpu.json", r))


VARIANT_FILES = ("variants_cpu.json", "variants_cpu_rest.json", "variants_cpu_simba.json")


def _variant_label(v: str, params: dict) -> str:
    if v == "simba" and params.get("simba_units"):
        return f"simba ({params['simba_units']} units x 2 blocks + obs normalisation)"
    if v == "crossq" and params.get("crossq_units"):
        return f"crossq (critic 2x{params['crossq_units']})"
    return {"ofenet": "ofenet (OFENet 8 blocks, 240 units + DenseMLP 256x2)"}.get(v, v)


@table("variants", *VARIANT_FILES)
def variants(res: Results) -> str:
    rows, notes = [], []
    for name in VARIANT_FILES:
        r = res.json(name)
        for c in r["results"]["rows"]:
            previous = c["eval_returns"][-2] if len(c["eval_returns"]) > 1 else None
            rows.append([_variant_label(c["variant"], r["parameters"]), num(c["final_mean"]),
                         ", ".join(num(x) for x in c["final_per_seed"]),
                         "—" if previous is None else
                         f"{', '.join(num(x) for x in previous)} ({c['steps'][-2]:,})",
                         f"{c['wall_s']:.0f} s", num(c["updates_per_s_per_seed"]), f"`{name}`"])
        notes.append(f"`{name}`: {machine_of(r)}, {date_of(r)}, other processes used "
                     f"{pct(other_share(r))} of the CPU")
    p = res.json(VARIANT_FILES[0])["parameters"]
    return (md_table(["variant", "final return, mean", "per seed",
                      "previous evaluation, per seed (step)", "wall time", "updates/s per seed",
                      "file"], rows, {1, 4, 5})
            + f"\n\nSAC on {p['task']}, {p['steps']:,} env steps ({p['random_steps']:,} random), "
              f"{p['seeds']} vmapped seeds, final deterministic return (10 episodes per seed). "
              "*Sources: " + "; ".join(notes) + ". Figure of all three: "
              "`benchmarks/results/variants_cpu_all.png`.*")


@table("variants-probe", "variants_cpu_probe.json")
def variants_probe(res: Results) -> str:
    r = res.json("variants_cpu_probe.json")
    rows = [[c["variant"], c["steps"][-1], num(c["updates_per_s_per_seed"]), f"{c['wall_s']:.0f} s"]
            for c in r["results"]["rows"]]
    return (md_table(["variant", "env steps", "updates/s per seed", "wall time"], rows, {1, 2, 3})
            + "\n\n" + source("variants_cpu_probe.json", r))


SIMBA_FACTORS, SIMBA_CLI = "quickstart_simba_norm_factors_cpu.json", "quickstart_simba_norm_cli_cpu.json"


@table("simba-quickstart", SIMBA_FACTORS, SIMBA_CLI)
def simba_quickstart(res: Results) -> str:
    """Issue 25 item 3: SimBa and observation normalisation on the quick-start task."""
    r, cli = res.json(SIMBA_FACTORS), res.json(SIMBA_CLI)
    rows = []
    for c in r["results"]["rows"]:
        overrides = ", ".join(f"`{k}={v}`" for k, v in c["overrides"].items()) or "(none)"
        rows.append([c["condition"], overrides, f"{len(c['seeds'])} (vmapped)",
                     ", ".join(num(x) for x in c["final_per_seed"]),
                     ", ".join(f"{x:,}" if x else "never" for x in c["first_step_at_max"])])
    for label, c in cli["results"].items():
        first = next((s for s, e in zip(c["steps"], c["eval_return"]) if e >= 1000), None)
        rows.append([f"CLI, {label.replace('_', ' ')}", "`agent.network.kind=simba`, "
                     "`env.normalize_obs=True`", "seed 0", num(c["eval_return"][-1]),
                     f"{first:,}" if first else "never"])
    return (md_table(["condition", "overrides of configs/quickstart.py", "seeds",
                      "final eval return per seed (15k steps)", "first eval at 1000"], rows)
            + "\n\n" + source(SIMBA_FACTORS, r) + " " + source(SIMBA_CLI, cli, command=True)
            + " " + cli["notes"]["user"])
