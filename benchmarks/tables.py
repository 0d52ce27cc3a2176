"""Every results table of the documentation (and the README's figure caption), rendered from
the files in benchmarks/results/ -- so that no figure is copied by hand and none can drift.

    python -m benchmarks.tables           # rewrite every generated block in docs/ and README.md
    python -m benchmarks.tables --check   # exit 1, naming the stale pages, if any block differs

A page holds a generated block between two markers; everything between them is this module's:

    <!-- generated: NAME (python -m benchmarks.tables) -->
    ...
    <!-- end: NAME -->

Each table says which file(s) it was read from, the machine (device) and the date recorded
there. The JSON files are read in the layouts they were written in (schema 2, see common.py,
and the older ones before it); nothing here rewrites measured data. Only files that git tracks
(or has staged) are rendered, so a page renders the same in a work tree with someone's
uncommitted results as in CI's clean clone. Pure Python (json, csv, one `git ls-files`): no
jax, so tests/test_docs.py can regenerate every page in well under a second.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Callable

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = "benchmarks/results"  # as named in the pages, relative to the repository root
HOPPER_RUN = "hopper_sac_1m_cpu"  # SAC 256x2 on Hopper-v5, 1M env steps, on the 2-core CPU
MARKER = re.compile(r"<!-- generated: (?P<name>[\w-]+) \(python -m benchmarks\.tables\) -->\n"
                    r"(?P<body>.*?)<!-- end: (?P=name) -->", re.S)


def tracked_files(root: str) -> set[str] | None:
    """The files under `root` that git tracks or has staged (paths relative to `root`), or
    None where `root` is not in a git work tree: then every file there counts. Untracked files
    (a result being written, someone's uncommitted run) are not rendered, so the pages render
    the same here as in CI's clean clone; `git add` a new result before regenerating."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", "."],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {name for name in out.split("\0") if name}


class Results:
    """The results directory, read once per file; only its tracked files where it is in git."""

    def __init__(self, root: str):
        self.root, self._cache = root, {}
        self.tracked = tracked_files(root)

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def exists(self, name: str) -> bool:
        if self.tracked is not None and name not in self.tracked \
                and not any(f.startswith(name + "/") for f in self.tracked):
            return False
        return os.path.exists(self.path(name))

    def names(self) -> list[str]:
        """The entries at the top of the directory (files and run directories), sorted."""
        names = {os.path.basename(p) for p in glob.glob(os.path.join(self.root, "*"))}
        return sorted(n for n in names if self.exists(n))

    def json(self, name: str) -> dict:
        if name not in self._cache:
            with open(self.path(name)) as f:
                self._cache[name] = json.load(f)
        return self._cache[name]

    def csv(self, name: str) -> list[dict]:
        with open(self.path(name), newline="") as f:
            return list(csv.DictReader(f))


# ----------------------------------------------------------------------------------------------
# Formatting


def num(x, signed: bool = False) -> str:
    """A measured number at the precision it deserves: 14,250 / 198 / 56.4 / 4.82 / 0.213."""
    if x is None:
        return "—"
    x = float(x)
    sign = "+" if signed and x > 0 else ""
    a = abs(x)
    text = (f"{x:,.0f}" if a >= 1000 else f"{x:.0f}" if a >= 100 else f"{x:.1f}" if a >= 10
            else f"{x:.2f}" if a >= 1 else f"{x:.3g}")
    return sign + text


def pct(x) -> str:
    return "—" if x is None else f"{100 * float(x):.0f}%"


def md_table(header: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    """A Markdown table; columns whose index is in `right` are right-aligned."""
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    lines = [header, rule] + [[str(c) for c in r] for r in rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def machine_of(record: dict) -> str:
    """The machine a record names, in any of the layouts: 'CPU model, N cores (platform)'."""
    m = record.get("machine") if isinstance(record.get("machine"), dict) else record
    cpu = m.get("cpu") or "CPU not recorded"
    cores = m.get("usable_cores") or m.get("cores") or m.get("cpu_count")
    platform = m.get("platform") or m.get("jax_backend") or m.get("device")
    gpus = ", ".join(g["name"] for g in m.get("gpus") or [])
    return (f"{cpu}{f', {cores} cores' if cores else ''}"
            f"{f' ({platform})' if platform else ''}{f', GPUs {gpus}' if gpus else ''}")


def date_of(record: dict) -> str:
    date = record.get("date") or (record.get("machine") or {}).get("date")
    return date[:10] if date else "date not recorded"


def other_share(record: dict):
    """The CPU share of other processes during the run, where the record measured it."""
    load = record.get("load") if isinstance(record.get("load"), dict) else record
    return load.get("other_processes_cpu_share")


def source(name: str, record: dict, command: bool = True) -> str:
    """The line under a table: its file, machine, date (and command, load where recorded)."""
    parts = [f"`{RESULTS}/{name}`", machine_of(record), date_of(record)]
    share = other_share(record)
    if share is not None:
        parts.append(f"other processes used {pct(share)} of the CPU")
    if command and record.get("command"):  # without its --note (the note is in the file)
        parts.append(f"`{re.sub(r' --note .*$', '', record['command'])}`")
    return "*Source: " + "; ".join(parts) + ".*"


# ----------------------------------------------------------------------------------------------
# The tables: name -> (files read, renderer)

TABLES: dict[str, tuple[tuple[str, ...], Callable[[Results], str]]] = {}


def table(name: str, *files: str):
    def register(fn):
        TABLES[name] = (files, fn)
        return fn
    return register


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
            f"{num(s['best_mean'])}. " + hopper_source(s)[1:])


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
                      "best mean", "wall time (last row's wall_s)"],
                     [[label, f"{s['step']:,}", s["seeds"], num(s["mean"]),
                       seeds, num(s["best_mean"]),
                       "—" if s["wall_s"] is None else f"{s['wall_s'] / 3600:.1f} h"]],
                     {1, 2, 3, 5, 6}) + "\n\n" + hopper_source(s) + image)


@table("quickstart-time", "quickstart_cpu.json")
def quickstart_time(res: Results) -> str:
    r = res.json("quickstart_cpu.json")
    return md_table(["command", "env steps", "wall time (compile included)",
                     "first eval at 1000", "final eval"],
                    [[f"`{r['command']}`", f"{r['total_steps']:,}", f"{r['wall_s']} s",
                      f"{r['first_step_with_eval_1000']:,}", num(r["eval_returns"][-1][1])]],
                    {1, 2, 3, 4}) + "\n\n" + source("quickstart_cpu.json", r, command=False) + \
        f" {r.get('note', '')}"


QUICKSTART_COMPARISONS = ("quickstart_before_after_cpu.json",
                          "quickstart_before_after_cpu_rerun.json",
                          "quickstart_jit_once_cpu.json")


@table("quickstart-comparisons", *QUICKSTART_COMPARISONS)
def quickstart_comparisons(res: Results) -> str:
    rows, notes = [], []
    for name in QUICKSTART_COMPARISONS:
        r = res.json(name)
        commits = {c["label"]: c["git"]["commit"][:7] for c in r["parameters"]["checkouts"]}
        for label, s in r["results"]["summary"].items():
            rows.append([f"`{name}`", f"{label} ({commits.get(label, '?')})", s["runs"],
                         ", ".join(f"{w:.1f}" for w in s["wall_s"]), f"{s['median_wall_s']:.1f} s",
                         ", ".join(f"{x:,}" for x in s["first_steps_with_eval_1000"]),
                         pct(other_share(r))])
        notes.append(f"`{name}`: {machine_of(r)}, {date_of(r)}"
                     + (f" ({r['notes']['user']})" if r["notes"].get("user") else ""))
    return (md_table(["file", "checkout", "runs", "wall s per run", "median", "first eval at 1000",
                      "other processes' CPU"], rows, {2, 4, 6})
            + "\n\n*Sources: " + "; ".join(notes) + ". Runs alternate between the checkouts "
            "(`python -m benchmarks.quickstart_time --checkouts OLD NEW --repeats N`).*")


ENV_FILES = ("env_throughput_cpu.json", "env_throughput_cpu_all_tasks_mujoco.json")


@table("env-throughput", *ENV_FILES)
def env_throughput(res: Results) -> str:
    out = []
    for name in ENV_FILES:
        r = res.json(name)
        batches = sorted({c["batch"] for c in r["results"] if c["backend"] != "gymnasium"})
        backends = [b for b in ("mujoco", "mjx") if any(c["backend"] == b for c in r["results"])]
        cols = [(b, n) for b in backends for n in batches]
        cell = {(c["task"], c["backend"], c["batch"]): c["env_steps_per_s"] for c in r["results"]}
        tasks = list(dict.fromkeys(c["task"] for c in r["results"]))
        rows = [[t, num(cell.get((t, "gymnasium", 1)))]
                + [num(cell.get((t, b, n))) for b, n in cols] for t in tasks]
        header = ["task", "Gymnasium (1 env)"] + [f"{b}, {n} env{'s' * (n > 1)}" for b, n in cols]
        out.append(md_table(header, rows, set(range(1, len(header)))) + "\n\n"
                   + source(name, r, command=False) + f" {r['note']}")
    return "\n\n".join(out)


@table("update-throughput", "update_throughput_cpu.json")
def update_throughput(res: Results) -> str:
    r = res.json("update_throughput_cpu.json")
    rows = [[c["algo"].upper(), c["network"], c["seeds"], num(c["updates_per_s"]),
             num(c["total_updates_per_s"]), f"{c['params']:,}",
             num(c["flops_per_update"] / 1e9), num(c["useful_gflop_per_s"]), num(c["compile_s"])]
            for c in r["rows"]]
    sizes = r["sizes"]
    return (md_table(["algorithm", "network", "seeds", "updates/s per seed", "updates/s total",
                      "parameters", "GFLOP per update", "GFLOP/s", "compile s"],
                     rows, set(range(2, 9)))
            + f"\n\nobs {sizes['obs']}, action {sizes['action']}, batch {sizes['batch']} "
              f"(Humanoid-v5's sizes); OFENet {sizes['ofenet_layers']} layers, "
              f"{sizes['ofenet_total_units']} units. " + source("update_throughput_cpu.json", r))


@table("scaling-updates", "scaling_cpu.json")
def scaling_updates(res: Results) -> str:
    r = res.json("scaling_cpu.json")["parts"]["updates"]
    seeds, widths = r["seeds"], r["widths"]
    cell = {(c["width"], c["seeds"]): c for c in r["rows"]}

    def show(c):
        if c is None or c.get("status") != "measured":
            return "skipped"
        return f"{num(c['updates_per_s'])} ({pct(c['utilisation'])})"

    rows = [[w] + [show(cell.get((w, s))) for s in seeds] for w in widths]
    n = r["network"]
    return (md_table(["width"] + [f"{s} seed{'s' * (s > 1)}" for s in seeds], rows,
                     set(range(len(seeds) + 1)))
            + f"\n\nSAC updates/s per seed ({r['peak']['precision']} share of the CPU's "
              f"theoretical peak, {num(r['peak']['flop_per_s'] / 1e9)} GFLOP/s: "
              f"{r['peak']['formula']}); network: {n['torso']} x{n['hidden_layers']}"
              f"{' + OFENet' if n['ofenet'] else ''}, obs {r['sizes']['obs']}, batch "
              f"{r['sizes']['batch']}. Skipped cells exceeded the CPU budget "
              f"(`max_cell_s` {r['max_cell_s']:.0f} s). "
              + source("scaling_cpu.json", r) + " Figure: `benchmarks/results/scaling.png`.")


@table("scaling-envs", "scaling_cpu.json")
def scaling_envs(res: Results) -> str:
    r = res.json("scaling_cpu.json")["parts"]["envs"]
    rows = [[c["num_envs"], c["backend"], num(c["random_env_steps_per_s"]),
             num(c["learning_env_steps_per_s"]), num(c["updates_per_s"]),
             c["updates_per_iteration"]] for c in r["rows"]]
    c = r["config"]
    return (md_table(["env.num_envs", "backend", "env steps/s, random phase",
                      "env steps/s, learning", "updates/s", "updates per iteration"],
                     rows, {0, 2, 3, 4, 5})
            + f"\n\n`Trainer.run_chunk` on {c['env']}, {c['agent'].upper()} {c['network']}, "
              f"batch {c['batch_size']}, {c['updates_per_step']:g} update per env step. "
              + source("scaling_cpu.json", r))


@table("replay-cost", "scaling_cpu.json")
def replay_cost(res: Results) -> str:
    r = res.json("scaling_cpu.json")["parts"]["per"]
    rows = [[f"{c['capacity']:,}", num(c["uniform_sample"]["per_call_us"]),
             num(c["per_sample_only"]["per_call_us"]),
             num(c["per_sample_and_update"]["per_call_us"]),
             num(c["uniform_sample"]["in_scan_us"]), num(c["per_sample_and_update"]["in_scan_us"])]
            for c in r["rows"]]
    return (md_table(["capacity", "uniform sample, µs/call", "PER sample, µs/call",
                      "PER sample + update, µs/call", "uniform, µs in a scan",
                      "PER sample + update, µs in a scan"], rows, set(range(6)))
            + f"\n\nBatch 256, alpha {r['alpha']}, beta {r['beta']}. "
            + source("scaling_cpu.json", r))


PEER_FILES = ("compare_peers_cpu_quiet.json", "compare_peers_cpu.json")


@table("compare-peers", *PEER_FILES)
def compare_peers(res: Results) -> str:
    out = []
    for name in PEER_FILES:
        r = res.json(name)
        upd = {(c["lib"], c["width"]): c["updates_per_s"] for c in r["update_rows"]}
        loop = {(c["lib"], c["width"]): c["env_steps_per_s"] for c in r["loop_rows"]}
        rows = []
        for what, cells, width, ratio in (
                ("gradient updates/s (sample + update)", upd, 256, "updates_256x2"),
                ("gradient updates/s (sample + update)", upd, 2048, "updates_2048x2"),
                ("training loop env steps/s (1 update/step)", loop, 256, "loop_env_steps_256x2")):
            q = r["ratios"][ratio]
            rows.append([what, f"{width}x2"] + [num(cells.get((lib, width)))
                                                for lib in ("ofe_jax", "sbx", "sb3_1t", "sb3")]
                        + [f"{q['ofe_jax/sbx']:.2f}x", f"{q['ofe_jax/sb3_best']:.2f}x"])
        v = r["versions"]
        out.append(md_table([f"{r['env']}, SAC, batch 256", "width", "ofe_jax", "sbx",
                             "SB3, 1 torch thread", "SB3, 2 torch threads", "ofe_jax / sbx",
                             "ofe_jax / SB3 (its faster setting)"], rows, set(range(2, 8)))
                   + f"\n\njax {v['jax']}, sbx {v['sbx-rl']}, SB3 {v['stable_baselines3']}, "
                     f"torch {v['torch']}; all libraries in one process, interleaved. "
                   + source(name, r, command=False))
    return "\n\n".join(out)


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


@table("soak", "soak_cpu.json")
def soak(res: Results) -> str:
    r = res.json("soak_cpu.json")
    s = r["results"]
    rows = [[i + 1, k["phase"], f"{k['after_s']:.1f} s", k["rows"],
             "yes" if k["during_save"] else "",
             ", ".join(map(str, k["checkpoints"]["steps"])) or "none",
             len(k["checkpoints"]["unreadable"])] for i, k in enumerate(s["kills"])]
    verdict = (f"Final step {s['final_step']['soaked']:,} (uninterrupted run: "
               f"{s['final_step']['reference']:,}); {s['carry_leaves_differing']} of "
               f"{s['carry_leaves']} carry leaves differ from the uninterrupted run's; metrics "
               f"identical but the timing columns: {s['metrics_identical_but_timing']}; every "
               f"checkpoint restorable after every kill: "
               f"{s['every_checkpoint_restorable_after_every_kill']}; passed: {s['passed']}.")
    return (md_table(["kill", "phase", "after", "metrics rows", "save in progress",
                      "checkpoints left", "unreadable"], rows, {0, 2, 3, 6})
            + "\n\n" + verdict + " " + source("soak_cpu.json", r))


@table("multihost", "multihost_cpu.json")
def multihost(res: Results) -> str:
    r = res.json("multihost_cpu.json")
    s = r["results"]
    checks = md_table(["check", "passed", "detail"],
                      [[k.split("_", 1)[1].replace("_", " "), v["passed"], v["detail"]]
                       for k, v in sorted(s["checks"].items())])
    kills = md_table(["killed", "when", "the other exits after", "exit code", "its line"],
                     [[f"process {k['victim']}", k["phase"], f"{k['exit_s']:.2f} s",
                       k["survivor_exit_code"], f"`{k['error_lines'][0]}`"] for k in s["kills"]],
                     {2, 3})
    launches = ", ".join(f"{k.replace('_', ' ')} {v} s" for k, v in s["launches"].items())
    return (checks + "\n\n" + kills + f"\n\nLaunch times: {launches}. heartbeat_timeout_s = "
            f"{r['parameters']['heartbeat_timeout_s']} in these runs. "
            + source("multihost_cpu.json", r))


@table("checkpoint-cost", "checkpoint_cost_cpu.json")
def checkpoint_cost(res: Results) -> str:
    r = res.json("checkpoint_cost_cpu.json")
    keep = 3  # config.keep_checkpoints' default: the next is written before the oldest goes
    rows = [[c["seeds"], f"{c['carry_bytes'] / 1e9:.2f} GB", f"{c['bytes_on_disk'] / 1e9:.2f} GB",
             f"{(keep + 1) * c['bytes_on_disk'] / 1e9:.1f} GB", f"{c['sync_save_s']:.1f} s",
             f"{c['async_blocking_s']:.2f} s", f"{c['async_total_s']:.1f} s",
             pct(c["stand_in_calls_per_s_during_save"] / c["stand_in_calls_per_s_alone"])]
            for c in r["results"]["rows"]]
    p = r["parameters"]
    return (md_table(["seeds", "carry in memory", "one checkpoint on disk",
                      f"disk at keep_checkpoints={keep} ({keep + 1} at once)", "synchronous save",
                      "async: training blocked", "async: write took",
                      "training speed during the write"],
                     rows, set(range(8)))
            + f"\n\n`configs/paper.py:{p['config']}`, replay capacity {p['replay_capacity']:,} "
              f"(filled), {p['obs_dtype']} observations. " + source("checkpoint_cost_cpu.json", r))


@table("ci-suite-time", "ci_suite_time_cpu.json")
def ci_suite_time(res: Results) -> str:
    r = res.json("ci_suite_time_cpu.json")
    rows = [[c["commit"], c.get("date", r["date"]), c["passed"], c.get("failed", 0), c["skipped"],
             f"{c['tests_s'] / 60:.1f} min", f"{c['total_wall_s_incl_install'] / 60:.1f} min",
             "—" if "cpu_s_user" not in c
             else f"{(c['cpu_s_user'] + c['cpu_s_system']) / 60:.0f}",
             c.get("where", "this VM").split(" (")[0]] for c in r["runs"]]
    return (md_table(["commit", "date", "passed", "failed", "skipped", "tests", "with the install",
                      "CPU-min", "where"], rows, {2, 3, 4, 5, 6, 7})
            + "\n\n" + source("ci_suite_time_cpu.json", r))


@table("test-compile-cuts", "test_compile_cuts_cpu.json")
def test_compile_cuts(res: Results) -> str:
    r = res.json("test_compile_cuts_cpu.json")
    rows = []
    for task in ("Hopper-v5", "Humanoid-v5"):
        for option, v in r["mjx_scan_compile_s"][task].items():
            if isinstance(v, (int, float, list)):
                v = v if isinstance(v, list) else [v]
                rows.append([task, option, ", ".join(f"{x:.1f}" for x in v)])
    imports = r["import_ofe_jax_analysis_figures_s"]
    return (md_table(["task", "XLA options", "compile s (one per run)"], rows, {2})
            + f"\n\nCompile time of the MJX parity scan (64 steps). 'passes' = two while-loop "
              f"passes off, 'opt0' = backend optimisation level 0. Importing "
              f"`ofe_jax.analysis.figures`: {imports['with_scipy.stats']} s with scipy.stats, "
              f"{imports['with_scipy.special']} s with scipy.special. "
            + source("test_compile_cuts_cpu.json", r))


@table("ant-mjx-drift", "test_compile_cuts_cpu.json")
def ant_mjx_drift(res: Results) -> str:
    r = res.json("test_compile_cuts_cpu.json")
    d = r["ant_full_range_obs_rel_err"]
    rows = [[options, seed] + [f"{x:.2g}" for x in errors]
            for options, seeds in d.items() if isinstance(seeds, dict)
            for seed, errors in seeds.items()]
    return (md_table(["XLA options", "action seed", "10 steps", "20", "30", "40", "50"], rows,
                     set(range(2, 7)))
            + f"\n\n{d['note']}. " + source("test_compile_cuts_cpu.json", r))


# ----------------------------------------------------------------------------------------------
# The index of every results file, and the pages


def _header(res: Results, name: str) -> tuple[str, str, str, str]:
    """(benchmark, layout, machine, date) of a results file, in any layout."""
    if name.endswith(".png"):
        return ("figure", "PNG", "", "")
    if os.path.isdir(res.path(name)):
        files = sorted(f for f in os.listdir(res.path(name)) if res.exists(f"{name}/{f}"))
        return ("training run", "run directory: " + ", ".join(files), "", "")
    r = res.json(name)
    layout = "schema 2" if r.get("schema") == 2 else "older layout (before schema 2)"
    if "parts" in r and "machine" not in r and "cpu" not in r:
        first = next(iter(r["parts"].values()))
        return (r.get("benchmark", ""), layout + f", parts {', '.join(r['parts'])}",
                machine_of(first), date_of(first))
    return r.get("benchmark", ""), layout, machine_of(r), date_of(r)


def results_index(res: Results, used: dict[str, list[str]], texts: dict[str, str],
                  repo_root: str) -> str:
    """Every file in the results directory with the generated blocks that read it (`used`:
    file -> [block names]); a figure with the pages that show it (`texts`: page -> text)."""
    rows = []
    for name in res.names():
        benchmark, layout, machine, date = _header(res, name)
        read_by = sorted({b for f, blocks in used.items() for b in blocks
                          if f == name or f.startswith(name + "/")})
        shown = sorted(os.path.relpath(page, repo_root) for page, text in texts.items()
                       if name.endswith(".png") and (f"figures/{name})" in text
                                                     or f"{RESULTS}/{name})" in text))
        rows.append([f"`{name}`", benchmark, layout, machine, date,
                     ", ".join([f"`{b}`" for b in read_by] + [f"shown in {p}" for p in shown])
                     or "not tabulated"])
    return md_table(["file", "benchmark", "layout", "machine", "date", "read by"], rows)


def pages(repo_root: str) -> list[str]:
    """The pages that may hold generated blocks: README.md and docs/**/*.md."""
    found = sorted(glob.glob(os.path.join(repo_root, "docs", "**", "*.md"), recursive=True))
    return [os.path.join(repo_root, "README.md")] + found


def render(repo_root: str = REPO_ROOT, results_dir: str | None = None) -> dict[str, str]:
    """{page path: its text with every generated block rendered} for the pages that hold one.
    ValueError for a block of an unknown name, or a table that no page shows."""
    res = Results(results_dir or os.path.join(repo_root, RESULTS))
    texts = {}
    for page in pages(repo_root):
        if os.path.exists(page):
            with open(page) as f:
                texts[page] = f.read()
    shown = {m["name"]: page for page, text in texts.items() for m in MARKER.finditer(text)}
    unknown = sorted(set(shown) - set(TABLES) - {"results-index"})
    missing = sorted((set(TABLES) | {"results-index"}) - set(shown))
    if unknown or missing:
        raise ValueError(f"generated blocks of unknown tables {unknown}; tables in no page "
                         f"{missing} (benchmarks/tables.py)")
    used = {}
    for name, (files, _) in TABLES.items():
        for f in files:
            used.setdefault(f, []).append(name)
    bodies = {name: fn(res) for name, (_, fn) in TABLES.items()}
    bodies["results-index"] = results_index(res, used, texts, repo_root)

    def fill(m):
        name = m["name"]
        return (f"<!-- generated: {name} (python -m benchmarks.tables) -->\n"
                f"{bodies[name].rstrip()}\n<!-- end: {name} -->")

    return {page: MARKER.sub(fill, text) for page, text in texts.items() if MARKER.search(text)}


def stale(repo_root: str = REPO_ROOT, results_dir: str | None = None) -> list[str]:
    """The pages whose generated blocks differ from what the results files render."""
    out = []
    for page, text in render(repo_root, results_dir).items():
        with open(page) as f:
            if f.read() != text:
                out.append(os.path.relpath(page, repo_root))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a page is not what the results render")
    args = parser.parse_args(argv)
    if args.check:
        out = stale()
        for page in out:
            print(f"stale: {page} (run `python -m benchmarks.tables`)")
        return 1 if out else 0
    for page, text in render().items():
        with open(page) as f:
            if f.read() == text:
                continue
        with open(page, "w") as f:
            f.write(text)
        print(f"wrote {os.path.relpath(page, REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
