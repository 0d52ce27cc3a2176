"""GPU tables: MJX options (parity, CPU speed, deviceless-H100 projection), auto-reset, and the
plan command's projections. Every projected figure is labelled as one (not measured)."""

from __future__ import annotations

from benchmarks.tables.base import Results, md_table, num, source, table

MJX_CPU, MJX_H100 = "mjx_options_cpu.json", "mjx_options_h100_plan.json"
PROJECTION = "projection (not measured)"


def _err(x: float) -> str:
    return f"{x:.1e}"


@table("mjx-options", MJX_CPU, MJX_H100)
def mjx_options(res: Results) -> str:
    cpu = res.json(MJX_CPU)["parts"]["cpu"]
    h100 = res.json(MJX_H100)["parts"]["h100"]
    settings = cpu["parameters"]["settings"]
    parity, speed = {}, {}
    for r in cpu["results"]["rows"]:
        if r["kind"] == "parity":
            parity[(r["task"], r["setting"])] = r["parity"]
        else:
            speed[(r["task"], r["setting"], r["speed"]["batch"])] = r["speed"]["env_steps_per_s"]
    plan = {(r["task"], r["setting"], r["batch"]): r for r in h100["results"]["rows"]
            if r.get("compiled")}
    tasks = list(dict.fromkeys(t for t, _ in parity))
    rows = []
    for setting, fields in settings.items():
        for task in tasks:
            p = parity.get((task, setting))
            if p is None:
                continue
            cells = [f"`{setting}`" if task == tasks[0] else "", task, _err(p["obs_rel"]),
                     _err(p["reward_rel"]), "yes" if p["terminated_equal"] else "no",
                     "yes" if p["within_test_tolerances"] else "no",
                     num(speed.get((task, setting, 8)))]
            for batch in (8, 4096):
                q = plan.get((task, setting, batch))
                cells.append("" if q is None else
                             f"{num(q['env_steps_per_s'])} ({num(q['per_vecenv_step']['kernels'])})")
            rows.append(cells)
    steps = next(iter(parity.values()))["steps"]
    legend = "; ".join(f"`{s}` = " + (", ".join(f"{k} {v}" for k, v in f.items()) or "the XML's")
                       for s, f in settings.items())
    return (md_table(["setting", "task", "obs error", "reward error", "same terminations",
                      "within the parity tests' tolerances", "CPU env steps/s, 8 envs",
                      "H100, 8 envs: env steps/s (kernels per step), " + PROJECTION,
                      "H100, 4096 envs: env steps/s (kernels per step), " + PROJECTION],
                     rows, {2, 3, 6, 7, 8})
            + f"\n\nSettings: {legend}. Errors: max over {steps} steps of |ours - ref| / "
              "(1 + |ref|) against `gymnasium.make` under the same actions (the parity tests' "
              "metric; tolerances obs 1e-3, reward 1e-2). HalfCheetah's XML integrates with "
              "Euler already (its Euler row would repeat `iter4_ls8`). Empty cells were not "
              "measured (MJX compiles take 8-12 minutes each on this CPU). "
              + source(MJX_CPU, cpu, command=False) + " " + source(MJX_H100, h100, command=False))


@table("autoreset", "autoreset_h100_plan.json")
def autoreset(res: Results) -> str:
    r = res.json("autoreset_h100_plan.json")
    rows = []
    for c in r["results"]["rows"]:
        taken = f"{num(c['kernels_per_step'])} / {num(c['syncs_per_step'])}"
        not_taken = (f"{num(c['kernels_per_step_not_taken'])} / "
                     f"{num(c['syncs_per_step_not_taken'])}"
                     if "kernels_per_step_not_taken" in c else "(no branch)")
        rows.append([c["task"], f"{c['batch']:,}", f"`{c['autoreset']}`", taken, not_taken,
                     num(c["projected_env_steps_per_s"])])
    return (md_table(["task", "envs", "env.autoreset", "kernels / host syncs per step (a reset "
                      "in it)", "... (no reset)", "env steps/s, " + PROJECTION],
                     rows, {1, 3, 4, 5})
            + "\n\n" + source("autoreset_h100_plan.json", r, command=False))


BEFORE_AFTER = "gpu_loop_before_after_h100_plan.json"


def _eval_share(plan: dict, eval_every: int | None = None) -> float:
    """Evaluation's share of the projected run, at the plan's cadence or at `eval_every`."""
    by = plan["projection"]["by_program"]
    runs = plan["programs"]["eval_return"]["runs"]
    each = by["eval_return"] / runs
    evals = runs if eval_every is None else plan["config"]["total_steps"] // eval_every
    rest = sum(v for k, v in by.items() if k != "eval_return")
    return each * evals / (rest + each * evals)


@table("gpu-loop-before-after", BEFORE_AFTER)
def gpu_loop_before_after(res: Results) -> str:
    r = res.json(BEFORE_AFTER)
    rows = []
    for cell in r["results"]["cells"]:
        extra = ", ".join(f"`{k}={v}`" for k, v in (cell.get("overrides") or {}).items())
        name = f"`{cell['config'].split(':')[1]}`" + (f" ({extra})" if extra else "")
        for when in ("before", "after"):
            p = cell[when]
            it = p["per_iteration"]
            rows.append([name if when == "before" else "", when, num(it["kernels"]),
                         num(it["syncs"]), num(it["matmul_flops"] / 1e6), num(it["bytes"] / 1e6),
                         num(p["memory"]["peak_bytes"] / 1e9), num(p["projection"]["hours"]),
                         f"{100 * _eval_share(p):.1f}%", f"{100 * _eval_share(p, 20_000):.1f}%"])
    par = r["parameters"]
    return (md_table(["config (mjx, 1 seed)", "", "kernels / iteration", "host syncs / iteration",
                      "matmul MFLOP / iteration", "MB moved / iteration", "peak memory GB",
                      "1M env steps, hours, " + PROJECTION, "evaluation's share (eval every 5k)",
                      "... every 20k"], rows, set(range(2, 10)))
            + f"\n\nBefore: {par['before_commit']}; after: {par['after_commit']}. Notes per "
              "cell: " + " ".join(f"{c['config'].split(':')[1]}"
                                  f"{' ' + str(c.get('overrides')) if c.get('overrides') else ''}"
                                  f": {c['before_note']}." for c in r["results"]["cells"]
                                  if c.get("before_note"))
            + " " + source(BEFORE_AFTER, r, command=True))
