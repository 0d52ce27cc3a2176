"""Speed tables: the quick start, env and update throughput, scaling, prioritised replay,
the peers."""

from __future__ import annotations

import csv
import json
import os
import re
import statistics

from benchmarks.tables.base import (HOPPER_RUN, RESULTS, Results, date_of, machine_of,  # noqa: F401
                                    md_table, num, other_share, pct, source, table)


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


LOOP_CPU = ("loop_before_after_quickstart_cpu.json", "loop_before_after_hopper1_cpu.json",
            "loop_before_after_hopper1_fixed_cpu.json", "loop_before_after_hopper8_cpu.json")


@table("loop-before-after-cpu", *LOOP_CPU)
def loop_before_after_cpu(res: Results) -> str:
    """Issue 24's CPU check: the checkout before the GPU-shaped loop against after it."""
    rows, notes = [], []
    for name in LOOP_CPU:
        r = res.json(name)
        commits = {c["label"]: c["git"]["commit"][:7] for c in r["parameters"]["checkouts"]}
        for label, s in r["results"]["summary"].items():
            speeds = [x for x in s.get("last_steps_per_s", []) if x is not None]
            rows.append([f"`{name}`", f"{label} ({commits.get(label, '?')})", s["runs"],
                         ", ".join(f"{w:.1f}" for w in s["wall_s"]),
                         ", ".join(f"{x:.1f}" for x in speeds) or "—",
                         ", ".join(num(x) for x in s["final_eval_returns"]),
                         pct(other_share(r))])
        notes.append(f"`{name}`: {r['notes'].get('user', '')}")
    return (md_table(["file", "checkout", "runs", "wall s per run (compile included)",
                      "env steps/s, last log interval", "final eval", "other processes' CPU"],
                     rows, {2})
            + "\n\n" + "; ".join(notes) + ". " + source(LOOP_CPU[0], res.json(LOOP_CPU[0]),
                                                         command=True))


@table("replay-writes", "replay_write_cpu.json")
def replay_writes(res: Results) -> str:
    r = res.json("replay_write_cpu.json")
    rows, timed = r["results"]["memory"], r["results"]["cpu_time"]
    targets = list(dict.fromkeys(m["target"] for m in rows))
    temp = {(m["case"], m["dtype"], m["target"]): m for m in rows}
    body = []
    for case, dtype in dict.fromkeys((m["case"], m["dtype"]) for m in rows):
        cells = [temp[case, dtype, t] for t in targets]
        t = timed.get(case, {}).get(dtype)
        body.append([case, dtype, num(cells[0]["obs_storage_bytes"] / 1e6)]
                    + [f"{c['temp_bytes'] / 1e6:,.2f}{'' if c['in_place'] else ' (copy)'}"
                       for c in cells]
                    + [num(t["median_call_s"] * 1e6) if t else "-"])
    return (md_table(["buffer", "obs storage", "obs + next_obs, MB"]
                     + [f"temporaries on {t}, MB" for t in targets]
                     + ["µs per write on the CPU"], body, set(range(2, 3 + len(targets) + 1)))
            + "\n\nquickstart: obs 4, 100,000 items; humanoid: obs 348, 1,000,000 items; one "
              "transition per write, the buffer donated; GPU targets compiled without a GPU. "
            + source("replay_write_cpu.json", r))
