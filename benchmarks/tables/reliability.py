"""Reliability and suite tables: soak, multi-host, checkpoint cost, CI time, compile-time
cuts, Ant's MJX drift."""

from __future__ import annotations

import csv
import json
import os
import re
import statistics

from benchmarks.tables.base import (HOPPER_RUN, RESULTS, Results, date_of, machine_of,  # noqa: F401
                                    md_table, num, other_share, pct, source, table)


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
    def minutes(s):  # a figure the run's record does not give is a dash
        return "—" if s is None else f"{s / 60:.1f} min"

    rows = [[c["commit"], c.get("date", r["date"]), c.get("passed", "—"), c.get("failed", 0),
             c.get("skipped", "—"), minutes(c.get("tests_s")),
             minutes(c.get("total_wall_s_incl_install")),
             "—" if c.get("cpu_s_user") is None
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
