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


PLAN_TABLE = ("plan_h100.json", "plan_h200.json")


def _fit(row: dict) -> str:
    fit = row.get("fit_seeds")
    if fit is None:
        return "—"
    return f"≥ {fit['seeds']:,}" if "limit" in fit else f"{fit['seeds']:,}"


@table("plan-table", *PLAN_TABLE)
def plan_table(res: Results) -> str:
    """The paper table's cells planned for each device (benchmarks/plan_table.py), the cells in
    the order the files list them; a cell a file has not reached yet is named below the table."""
    records = {name: res.json(name) for name in PLAN_TABLE}
    by_device = {r["parameters"]["device"]: {row["spec"]: row for row in r["results"]["rows"]}
                 for r in records.values()}
    specs = list(dict.fromkeys(s for r in records.values() for s in r["parameters"]["cells"]))
    rows, missing = [], {}
    for spec in specs:
        first = True
        for device, planned in by_device.items():
            row = planned.get(spec)
            if row is None:
                missing.setdefault(device, []).append(spec)
                continue
            errors = "; ".join(f"{k}: {v}" for k, v in row["errors"].items())
            rows.append([f"`{spec}`" if first else "", device.upper(),
                         "yes" if row["compiled"] else f"no ({errors})",
                         num(row["peak_memory_bytes"] / 1e9), "yes" if row["fits"] else "no",
                         _fit(row), num(row.get("kernels_per_iteration")),
                         num(row.get("syncs_per_iteration")), num(row.get("projected_hours"))])
            first = False
    seeds = {r["parameters"]["seeds"] for r in records.values()}
    text = md_table(["cell (configs/paper.py)", "device", "compiled",
                     f"peak memory at {'/'.join(map(str, seeds))} seeds, GB", "fits (75%)",
                     "largest seeds that fit", "kernels / iteration", "host syncs / iteration",
                     "1M env steps, hours, " + PROJECTION], rows, {3, 5, 6, 7, 8})
    if missing:
        devices = {}  # the devices that lack a cell -> those cells
        for spec in specs:
            lacking = tuple(d.upper() for d, cells in missing.items() if spec in cells)
            if lacking:
                devices.setdefault(lacking, []).append(f"`{spec}`")
        text += "\n\nNot planned yet (the table's run stopped before them; `--resume` goes on): " \
            + "; ".join(f"{' and '.join(d)}: {', '.join(cells)}" for d, cells in devices.items()) \
            + "."
    comparison = _td3_against_sac(by_device)
    if comparison:
        text += "\n\n" + comparison
    return text + "\n\n" + " ".join(source(name, r, command=True) for name, r in records.items())


def _td3_against_sac(by_device: dict[str, dict[str, dict]]) -> str:
    """Each planned TD3 cell as a ratio to the SAC cell of the same task, variant and device
    (TD3 / SAC: 1.02 = 2% more), and the range over them: where the algorithm changes the plan."""
    rows, ratios = [], {"memory": [], "kernels": [], "hours": []}
    for device, planned in by_device.items():
        for spec, row in planned.items():
            task, algorithm, variant = spec.split(",")[:3]
            sac = planned.get(f"{task},sac,{variant}")
            if algorithm != "td3" or sac is None or not (row["compiled"] and sac["compiled"]):
                continue
            mem = row["peak_memory_bytes"] / sac["peak_memory_bytes"]
            ker = row["kernels_per_iteration"] / sac["kernels_per_iteration"]
            hrs = row["projected_hours"] / sac["projected_hours"]
            for key, value in zip(ratios, (mem, ker, hrs)):
                ratios[key].append(value)
            rows.append([f"`{spec}`", device.upper(), f"{mem:.3f}",
                         f"{_fit(row)} / {_fit(sac)}", f"{ker:.3f}",
                         f"{hrs:.3f}"])
    if not rows:
        return ""
    span = "; ".join(f"{key} {min(v):.3f} to {max(v):.3f}" for key, v in ratios.items())
    return ("TD3 against SAC, each planned TD3 cell over the SAC cell of the same task, variant "
            f"and device (TD3 / SAC; {span}):\n\n"
            + md_table(["TD3 cell", "device", "peak memory, TD3 / SAC", "largest seeds, TD3 / SAC",
                        "kernels / iteration, TD3 / SAC", "projected hours, TD3 / SAC"],
                       rows, {2, 3, 4, 5}))
