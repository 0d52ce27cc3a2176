"""SAC gradient updates/s against the actor/critic width and the number of vmapped seeds, with
the achieved matmul FLOP/s next to the device's peak (part "updates" of scaling.json).

Widths default 256 ... 4096, seeds 1, 4, 16, 64. Network (default ``dense+ofenet``): DenseNet
MLP torso, 2 hidden layers of ``width`` units, behind OFENet (8 blocks, 240 units per phi, as for
Humanoid); batch 256; Humanoid-v5 sizes (obs 348, action 17). ``--network mlp`` etc. for the
others. Measurement as in ``benchmarks/update_throughput.py`` (its ``Runner``) with a cheaper
set-up per cell (`cell_runner`): ``jit(update_many)`` or ``jit(vmap(update_many))`` with the
state donated, K random batches on the device reused across calls, compile and one warm-up call
excluded; updates/s per seed = K / median call time. FLOPs per update: the analytic matmul
count of ``benchmarks.flops.flops_per_update``, so FLOP/s is *useful* FLOP/s. Peaks: see
benchmarks/flops.py. Cells whose estimated time (from the FLOP/s measured so far) exceeds the
per-cell or the total time budget, or whose estimated memory exceeds the free memory, are not
run and are recorded as ``skipped (CPU budget)`` / ``skipped (time budget)`` /
``skipped (memory)``. Plot (benchmarks/scaling_plots.py): updates/s per seed and FLOP
utilisation against width, one line per seeds value.

    python -m benchmarks.scaling_updates --out benchmarks/results/scaling_cpu.json
    python -m benchmarks.scaling_updates --widths 256 512 --seeds 1 4 --seconds 1 \\
        --out /tmp/scaling.json --plot /tmp/scaling.png                   # a quick look
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common, scaling, scaling_plots
from benchmarks.flops import device_peak, flops_per_update, fmt_flops, free_memory_bytes
from benchmarks.update_throughput import (ACTION_SIZE, BATCH, OBS_SIZE, OFENET_LAYERS,
                                          OFENET_UNITS, Runner, agent_config,
                                          batch_bytes_per_update, clamp_k, guess_flops_per_s,
                                          param_counts)
from ofe_jax import agents

WIDTHS = (256, 512, 1024, 2048, 4096)
SEEDS = (1, 4, 16, 64)
NETWORKS = ("dense+ofenet", "dense", "mlp+ofenet", "mlp")
# Defaults per platform: timed span per cell, target duration of one call, total and per-cell
# time budgets (0: no limit). CPU: the whole default grid fits in about 10 minutes.
PLATFORM = common.KindDefaults(
    {"cpu": {"seconds": 2.0, "call_seconds": 0.5, "budget_seconds": 480.0,
             "max_cell_seconds": 60.0},
     "accelerator": {"seconds": 5.0, "call_seconds": 0.5, "budget_seconds": 0.0,
                     "max_cell_seconds": 300.0}}, scaling.PLATFORM_LABELS)
COMPILE_GUESS_S = {"cpu": 10.0, "accelerator": 30.0}  # first guess of one cell's compile time
MEMORY_FRACTION = 0.7  # of the free memory a cell may be estimated to use
SETUP_S = 5.0  # first guess of the rest of a cell: state, batches, tracing, freeing

METHOD = (
    "cell_runner (benchmarks.update_throughput.Runner on one seed's initial state broadcast to "
    "all seeds, and numpy batches): jit(update_many) [vmap over seeds], state donated; K random "
    "batches on device, reused across calls; compile and one warm-up call excluded; "
    "updates_per_s = K / median call time, per seed; total = seeds x that. flops_per_update: "
    "benchmarks.flops.flops_per_update (analytic matmul FLOPs of one seed's update); "
    "achieved_flop_per_s = flops_per_update x total updates/s; utilisation = achieved / "
    "peak.flop_per_s. Cells are run in order (seeds, then width); a cell is skipped when its "
    "time estimate (compile + warm-up + timed calls, from the FLOP/s of the last measured cell) "
    "exceeds max_cell_s or the remaining budget_s, or its memory estimate exceeds "
    "memory_fraction of the free memory.")


def state_bytes(agent) -> int:
    """Bytes of one seed's agent state: params, target critics, Adam moments, BatchNorm stats."""
    state = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    return int(sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(state)))


def estimate_memory_bytes(agent, width: int, seeds: int, k: int) -> int:
    """Rough peak bytes of one call: the donated state, 0.5x it for gradients and optimiser
    temporaries, the K batches, and activations (~24 layer outputs of ~2 x width + 1000 floats
    per sample kept for the backward passes)."""
    activations = BATCH * 4 * 24 * (2 * width + 1000)
    return int(seeds * (1.5 * state_bytes(agent) + activations)
               + seeds * k * batch_bytes_per_update())


def numpy_batches(rng: np.random.Generator, lead: tuple, gamma: float) -> agents.Transition:
    """Random transitions of Humanoid-v5 shapes with leading axes `lead` + (BATCH,)."""
    shape = lead + (BATCH,)
    return agents.make_transition(
        obs=rng.standard_normal(shape + (OBS_SIZE,), dtype=np.float32),
        action=rng.uniform(-1.0, 1.0, shape + (ACTION_SIZE,)).astype(np.float32),
        reward=rng.standard_normal(shape, dtype=np.float32),
        terminated=rng.random(shape) < 0.01,
        next_obs=rng.standard_normal(shape + (OBS_SIZE,), dtype=np.float32),
        gamma=gamma)


def cell_runner(agent, init_fn, seeds: int, k: int, seed: int = 0) -> Runner:
    """A Runner with a set-up cheap enough for many cells: ONE seed's initial state from a
    per-width compiled init, broadcast to all seeds (each seed gets its own batches, so the
    seeds diverge after the first update; the work per update does not depend on the values),
    and the batches drawn with numpy. `jit(vmap(init))` and a jitted batch generator per
    (seeds, K) cost more to compile on a CPU than the update itself."""
    state = init_fn(jax.random.PRNGKey(seed))
    if seeds == 1:
        state, lead = jax.tree.map(jnp.copy, state), (k,)
    else:
        state = jax.tree.map(lambda x: jnp.broadcast_to(x, (seeds,) + x.shape).copy(), state)
        lead = (seeds, k)
    batches = jax.device_put(numpy_batches(np.random.default_rng(seed), lead,
                                           agent.config.gamma))
    return Runner(agent, state, batches, seeds)


def measure_cell(agent, init_fn, seeds: int, k: int, seconds: float, call_seconds: float,
                 min_calls: int) -> dict:
    """Runs one cell; recompiles once with a larger K if the calls are < 1/4 of the target
    (dispatch overhead would dominate)."""
    calibration = []
    cell_start = time.perf_counter()
    while True:
        runner = cell_runner(agent, init_fn, seeds, k)
        first = runner.call()
        new_k = clamp_k(round(k * call_seconds / first), seeds)
        if calibration or first >= call_seconds / 4 or new_k <= k:
            break
        calibration.append({"k": k, "compile_s": runner.compile_s,
                            "warmup_s": runner.warmup_s, "first_call_s": first})
        runner, k = None, new_k
    cpu0, t0 = common.own_cpu_s(), time.perf_counter()
    times = common.time_calls(runner.call, seconds, min_calls, times=[first])
    wall, cpu_s = time.perf_counter() - t0, common.own_cpu_s() - cpu0
    result = {
        "updates_per_call": k, **common.call_stats(times), "compile_s": runner.compile_s,
        "warmup_call_s": runner.warmup_s, "calibration": calibration,
        # Share of the usable cores this process got during the timed calls after the first:
        # 1.0 = all of them; lower = other processes took the rest (or XLA left cores idle).
        "cpu_share": (cpu_s / wall / common.usable_cores()) if len(times) > 1 and wall > 0
        else None,
        "finite_losses": runner.finite_losses(),
    }
    del runner  # free the state and batches before the next cell
    result["cell_wall_s"] = time.perf_counter() - cell_start
    # Everything but compiling and the calls: state set-up, batches, tracing, freeing.
    result["setup_s"] = (result["cell_wall_s"] - result["compile_s"] - result["warmup_call_s"]
                         - result["timed_s"] - sum(c["compile_s"] + c["warmup_s"]
                                                   + c["first_call_s"] for c in calibration))
    return result


class Guesses:
    """The running estimates that size and budget the next cell: FLOP/s of the last measured
    cell, compile time, other set-up time, and the per-width init compile time."""

    def __init__(self, platform: str, compile_s: float):
        self.rate, self.compile_s, self.setup_s = guess_flops_per_s(platform), compile_s, SETUP_S
        self.init_s, self.measured = compile_s, False

    def cell_s(self, call_s: float, calls: float, init_compiled: bool) -> float:
        return (self.setup_s + (0.0 if init_compiled else self.init_s) + self.compile_s
                + call_s * (1 + calls))

    def learn(self, result: dict, achieved: float) -> None:
        self.rate = achieved
        if self.measured:
            self.compile_s = max(self.compile_s, result["compile_s"])
            self.setup_s = max(self.setup_s, result["setup_s"])
        else:
            self.compile_s, self.setup_s = result["compile_s"], result["setup_s"]
        self.measured = True


def skip_reasons(estimate: float, memory: int, free: int | None, elapsed: float,
                 max_cell_s: float, budget_s: float | None) -> list[str]:
    reasons = []
    if estimate > max_cell_s:
        reasons.append(f"estimated {estimate:.0f} s > max_cell_s {max_cell_s:g} s")
    elif budget_s is not None and elapsed + estimate > budget_s:
        reasons.append(f"{elapsed:.0f} s elapsed + estimated {estimate:.0f} s > budget_s "
                       f"{budget_s:g} s")
    if free is not None and memory > MEMORY_FRACTION * free:
        reasons.append(f"estimated {memory / 2**30:.1f} GiB > {MEMORY_FRACTION:g} x "
                       f"{free / 2**30:.1f} GiB free")
    return reasons


def run_cells(args, settings: dict, peak: dict) -> list[dict]:
    device = jax.devices()[0]
    guesses = Guesses(device.platform, settings["compile_guess_s"])
    seconds, call_seconds = settings["seconds"], settings["call_seconds"]
    per_width = {}  # width -> [agent, compiled init or None]
    rows, start = [], time.perf_counter()
    for seeds in args.seeds:
        for width in args.widths:
            if width not in per_width:
                kind, _, ofenet = args.network.partition("+")
                config = agent_config("sac", kind, width, ofenet == "ofenet")
                per_width[width] = [agents.make(config, OBS_SIZE, ACTION_SIZE), None]
            agent, init_fn = per_width[width]
            flops = flops_per_update(agent.config, OBS_SIZE, ACTION_SIZE)
            update_s = seeds * flops / guesses.rate  # one update of every seed, estimated
            k = clamp_k(max(1, round(call_seconds / update_s)), seeds)
            call_s = k * update_s
            estimate = guesses.cell_s(call_s, max(args.min_calls, seconds / call_s),
                                      init_fn is not None)
            memory = estimate_memory_bytes(agent, width, seeds, k)
            free = free_memory_bytes(device)
            row = {"width": width, "seeds": seeds, "params": param_counts(agent)["total"],
                   "state_bytes_per_seed": state_bytes(agent), "flops_per_update": flops,
                   "estimated_cell_s": round(estimate, 1), "estimated_memory_bytes": memory,
                   "free_memory_bytes": free, "load_1min": round(os.getloadavg()[0], 2)}
            reasons = skip_reasons(estimate, memory, free, time.perf_counter() - start,
                                   settings["max_cell_s"], settings["budget_s"])
            if reasons:
                row["status"] = ("skipped (memory)" if "memory" in reasons[0] else
                                 settings["skip_label"])
                row["skip_reasons"] = reasons
            else:
                if init_fn is None:
                    t = time.perf_counter()
                    init_fn = jax.jit(agent.init).lower(jax.random.PRNGKey(0)).compile()
                    per_width[width][1] = init_fn
                    row["init_compile_s"] = guesses.init_s = time.perf_counter() - t
                result = measure_cell(agent, init_fn, seeds, k, seconds, call_seconds,
                                      args.min_calls)
                per_seed = result["updates_per_call"] / result["median_call_s"]
                achieved = flops * seeds * per_seed
                row.update({"status": "measured", "updates_per_s": per_seed,
                            "total_updates_per_s": seeds * per_seed,
                            "achieved_flop_per_s": achieved,
                            "utilisation": (achieved / peak["flop_per_s"]
                                            if peak.get("flop_per_s") else None), **result})
                guesses.learn(result, achieved)
            rows.append(row)
            print(row_line(row), flush=True)
    return rows


def row_line(row: dict) -> str:
    head = f"width {row['width']:5d} seeds {row['seeds']:3d}: "
    if row["status"] != "measured":
        return head + f"{row['status']}: " + "; ".join(row["skip_reasons"])
    util = f"{100 * row['utilisation']:.1f}% of peak" if row["utilisation"] is not None else ""
    return (head + f"{row['updates_per_s']:10.2f} upd/s/seed {row['total_updates_per_s']:10.2f}"
            f" total  {fmt_flops(row['achieved_flop_per_s'])} {util}  (K="
            f"{row['updates_per_call']}, {row['calls']} calls, compile {row['compile_s']:.1f} s, "
            f"load {row['load_1min']})")


def table(rows: list[dict]) -> str:
    def line(r):
        ok, util = r["status"] == "measured", r.get("utilisation")
        return (str(r["width"]), str(r["seeds"]),
                f"{r['updates_per_s']:,.2f}" if ok else "-",
                f"{r['total_updates_per_s']:,.2f}" if ok else "-",
                f"{r['flops_per_update'] / 1e9:.1f}",
                f"{r['achieved_flop_per_s'] / 1e9:,.1f}" if ok else "-",
                f"{100 * util:.1f}" if ok and util is not None else "-",
                f"{r['load_1min']:.2f}", r["status"])

    return common.format_table(("width", "seeds", "upd/s/seed", "total upd/s", "GFLOP/upd",
                                "GFLOP/s", "% peak", "load", "status"),
                               [line(r) for r in rows], left=(8,))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = scaling.part_parser(__doc__)
    parser.add_argument("--network", choices=NETWORKS, default="dense+ofenet",
                        help="torso kind, 2 hidden layers of --widths units, +OFENet or not")
    parser.add_argument("--widths", nargs="*", type=int, help=f"default {list(WIDTHS)}")
    parser.add_argument("--seeds", nargs="*", type=int, help=f"default {list(SEEDS)}")
    parser.add_argument("--min-calls", type=int, default=2,
                        help="timed calls per cell at least (default 2)")
    for flag, what in (("--seconds", "timed span per cell"),
                       ("--call-seconds", "target duration of one call, sets K"),
                       ("--budget-seconds", "skip cells that would end after this many seconds"
                                            " (<= 0: no limit)"),
                       ("--max-cell-seconds", "skip cells estimated to take longer")):
        PLATFORM.add(parser, flag, float, what)
    args = PLATFORM.resolve(parser.parse_args(argv), scaling.platform_kind())
    args.widths, args.seeds = args.widths or list(WIDTHS), args.seeds or list(SEEDS)
    return args


def settings_for(args) -> dict:
    kind = scaling.platform_kind()
    return {"seconds": args.seconds, "call_seconds": args.call_seconds,
            "budget_s": args.budget_seconds if args.budget_seconds > 0 else None,
            "max_cell_s": args.max_cell_seconds, "compile_guess_s": COMPILE_GUESS_S[kind],
            "skip_label": "skipped (CPU budget)" if kind == "cpu" else "skipped (time budget)"}


def main(argv: list[str] | None = None) -> dict:
    argv = common.default_argv(argv)
    args = parse_args(argv)
    device = jax.devices()[0]
    settings = settings_for(args)
    run = common.Run("scaling_updates", argv, {
        "what": "SAC gradient updates/s vs actor/critic width and vmapped seeds",
        "network": {"name": args.network, "torso": args.network.split("+")[0],
                    "hidden_layers": 2, "ofenet": args.network.endswith("+ofenet"),
                    "ofenet_total_units": OFENET_UNITS, "ofenet_layers": OFENET_LAYERS,
                    "num_critics": 2},
        "sizes": {"obs": OBS_SIZE, "action": ACTION_SIZE, "batch": BATCH,
                  "note": "Humanoid-v5 observation and action sizes"},
        "widths": args.widths, "seeds": args.seeds, "seconds_per_cell": settings["seconds"],
        "target_call_s": settings["call_seconds"], "min_calls": args.min_calls,
        "budget_s": settings["budget_s"], "max_cell_s": settings["max_cell_s"],
        "memory_fraction": MEMORY_FRACTION})
    peak = device_peak(device)
    print(run.banner(f"{args.network}, widths {args.widths}, seeds {args.seeds}; peak "
                     f"{fmt_flops(peak['flop_per_s'])} ({peak['kind']})"), flush=True)
    rows = run_cells(args, settings, peak)
    skipped = [f"width {r['width']} x {r['seeds']} seeds: {r['status']}: "
               + "; ".join(r["skip_reasons"]) for r in rows if r["status"] != "measured"]
    record = run.finish({"peak": peak, "rows": rows, "skipped": skipped}, METHOD, args.note)
    print(table(rows))
    scaling.write_part(args, "updates", record, scaling_plots.plot_updates, "scaling.png")
    return record


if __name__ == "__main__":
    main()
