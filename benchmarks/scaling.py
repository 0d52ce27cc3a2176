"""Scaling benchmarks: how throughput grows with the network and with vmapped seeds.

One file, several parts, chosen with ``--part``; each part writes its own section
``parts[<name>]`` of the output JSON (a JSON that already holds other parts keeps them), and
its own plot.

Parts
-----
updates
    SAC gradient updates/s against the actor/critic width (default 256 ... 4096) and the number
    of seeds vmapped into one call (default 1, 4, 16, 64), with the achieved matmul FLOP/s
    next to the device's peak. Network (default ``dense+ofenet``): DenseNet MLP torso, 2 hidden
    layers of ``width`` units, behind OFENet (8 blocks, 240 units per phi, as for Humanoid);
    batch 256; Humanoid-v5 sizes (obs 348, action 17). ``--network mlp`` etc. for the others.
    Measurement as in ``benchmarks/update_throughput.py`` (its ``Runner``, with a cheaper
    set-up, see ``CellRunner``): ``jit(update_many)`` or ``jit(vmap(update_many))`` with the
    state donated, K random batches on the device reused across calls, compile and one
    warm-up call excluded;
    updates/s per seed = K / median call time. FLOPs per update are the analytic matmul
    count of ``update_throughput.flops_per_update`` (2 per multiply-add; forward, weight and
    input gradients; no elementwise work), so FLOP/s is *useful* FLOP/s.
    Cells whose estimated time (from the FLOP/s measured so far) exceeds the per-cell or the
    total time budget, or whose estimated memory exceeds the free memory, are not run and are
    recorded as ``skipped (CPU budget)`` / ``skipped (time budget)`` / ``skipped (memory)``.
    Plot: updates/s per seed and FLOP utilisation against width, one line per seeds value.

(Further parts: add a function ``run_<name>(args) -> dict`` and optionally a plot function,
register both in ``PARTS`` at the end of the file, and their options in ``add_arguments``.)

    python -m benchmarks.scaling --part updates --out benchmarks/results/scaling_cpu.json
    python -m benchmarks.scaling --part updates --widths 256 512 --seeds 1 4 --seconds 1 \\
        --out /tmp/scaling.json --plot /tmp/scaling.png                   # a quick look

Peaks: on a CPU a theoretical estimate, usable logical cores x the clock in /proc/cpuinfo x
fp32 FLOP/cycle/core of the widest FMA the CPU has (see ``cpu_peak``); on NVIDIA GPUs the
datasheet's dense FP32 and TF32 tensor-core peaks keyed by ``device_kind`` (``GPU_PEAKS``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from benchmarks.update_throughput import (
    ACTION_SIZE,
    BATCH,
    GUESS_FLOPS_PER_S,
    GUESS_FLOPS_PER_S_ACCELERATOR,
    OBS_SIZE,
    OFENET_LAYERS,
    OFENET_UNITS,
    Runner,
    batch_bytes_per_update,
    clamp_k,
    cpu_model,
    flops_per_update,
    param_counts,
)
from ofe_jax import agents

# ----------------------------------------------------------------------------------------------
# Device peaks

# (substring of jax's device_kind, product, dense FP32 FLOP/s (CUDA cores), dense TF32
# tensor-core FLOP/s (the datasheets quote TF32 "with sparsity": 2x these), source).
# First match wins: the specific variants (NVL, PCIe) come before the plain name.
GPU_PEAKS = (
    ("H200 NVL", "H200 NVL", 60e12, 417.5e12,
     "NVIDIA H200 datasheet: FP32 60 TFLOPS, TF32 Tensor Core 835 TFLOPS with sparsity"),
    ("H200", "H200 SXM", 67e12, 494.7e12,
     "NVIDIA H200 datasheet: FP32 67 TFLOPS, TF32 Tensor Core 989 TFLOPS with sparsity"),
    ("H100 NVL", "H100 NVL", 60e12, 417.5e12,
     "NVIDIA H100 datasheet: FP32 60 TFLOPS, TF32 Tensor Core 835 TFLOPS with sparsity"),
    ("H100 PCIe", "H100 PCIe", 51.2e12, 378e12,
     "NVIDIA H100 datasheet / Hopper whitepaper: FP32 51.2 TFLOPS, TF32 756 with sparsity"),
    ("H100", "H100 SXM5", 66.9e12, 494.7e12,
     "NVIDIA H100 datasheet / Hopper whitepaper: FP32 66.9 TFLOPS, TF32 989.4 with sparsity"),
)


def _cpuinfo() -> dict:
    """vendor, family, flags and the mean 'cpu MHz' of the first /proc/cpuinfo entries."""
    info = {"vendor": "", "family": None, "flags": set(), "mhz": []}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = (part.strip() for part in line.partition(":"))
                if key == "vendor_id":
                    info["vendor"] = value
                elif key == "cpu family" and info["family"] is None:
                    info["family"] = int(value)
                elif key == "flags" and not info["flags"]:
                    info["flags"] = set(value.split())
                elif key == "cpu MHz":
                    info["mhz"].append(float(value))
    except OSError:
        pass
    return info


def cpu_fp32_flop_per_cycle(vendor: str, family: int | None, flags: set) -> tuple[int, str]:
    """fp32 FLOP per cycle per core of the widest FMA (2 FLOP per lane), assuming 2 FMA pipes."""
    if "avx512f" in flags:
        if vendor == "AuthenticAMD" and (family or 0) < 26:
            return 32, ("AVX-512 on AMD Zen 4 (family 25): executed on 2 x 256-bit FMA pipes = "
                        "16 fp32 FMA lanes x 2 FLOP = 32 FLOP/cycle/core")
        return 64, ("AVX-512 with 2 x 512-bit FMA pipes (Intel server cores, AMD Zen 5) = 32 "
                    "fp32 FMA lanes x 2 FLOP = 64 FLOP/cycle/core (parts with one 512-bit FMA "
                    "pipe have half)")
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2 + FMA: 2 x 256-bit FMA pipes = 16 fp32 lanes x 2 FLOP = 32"
    if "avx" in flags:
        return 16, "AVX without FMA: 256-bit add + 256-bit multiply = 16"
    return 8, "SSE: 128-bit add + 128-bit multiply = 8"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_peak() -> dict:
    info = _cpuinfo()
    cores = usable_cores()
    mhz = statistics.mean(info["mhz"]) if info["mhz"] else float("nan")
    per_cycle, isa = cpu_fp32_flop_per_cycle(info["vendor"], info["family"], info["flags"])
    peak = cores * mhz * 1e6 * per_cycle
    return {
        "flop_per_s": peak, "precision": "fp32",
        "kind": "theoretical estimate (not measured)",
        "formula": f"{cores} usable cores x {mhz:.0f} MHz x {per_cycle} FLOP/cycle/core "
                   f"= {peak / 1e9:.1f} GFLOP/s",
        "cores": cores, "clock_mhz": mhz, "flop_per_cycle_per_core": per_cycle, "isa": isa,
        "cpu": cpu_model(), "vendor": info["vendor"], "family": info["family"],
        "source": ("cores: os.sched_getaffinity; clock: mean 'cpu MHz' in /proc/cpuinfo; "
                   "FLOP/cycle: from the ISA flags in /proc/cpuinfo (see isa)"),
        "caveats": ("'cpu MHz' is the clock the kernel reports (in a VM usually the nominal/"
                    "TSC clock); boost clocks can be higher, so utilisation above 100% is "
                    "possible. In a VM the vCPUs may be SMT siblings sharing one core's FMA "
                    "pipes, which would halve the real peak. Matmuls only: XLA's elementwise "
                    "work is not counted in the achieved FLOP/s."),
    }


def gpu_peak(device_kind: str) -> dict:
    precision = str(jax.config.jax_default_matmul_precision).lower()
    fp32_matmuls = precision in ("highest", "float32")
    for key, product, fp32, tf32, source in GPU_PEAKS:
        if key.lower() in device_kind.lower():
            primary = fp32 if fp32_matmuls else tf32
            return {
                "flop_per_s": primary, "precision": "fp32" if fp32_matmuls else "tf32",
                "kind": "vendor datasheet peak (dense, boost clock)",
                "product": product, "fp32_flop_per_s": fp32, "tf32_dense_flop_per_s": tf32,
                "source": source,
                "note": ("utilisation is against the TF32 tensor-core peak because JAX's "
                         "default matmul precision lets XLA use TF32 for float32 matmuls on "
                         "this GPU; against dense FP32: multiply by "
                         f"{tf32 / fp32:.2f}" if not fp32_matmuls else
                         "jax_default_matmul_precision asks for full float32: FP32 peak"),
            }
    return {"flop_per_s": None, "kind": f"unknown: no peak listed for {device_kind!r}",
            "source": "add it to GPU_PEAKS in benchmarks/scaling.py"}


def device_peak(device) -> dict:
    if device.platform == "cpu":
        return cpu_peak()
    return gpu_peak(device.device_kind)


def free_memory_bytes(device) -> int | None:
    """Bytes the device can still allocate: MemAvailable on a CPU, bytes_limit - in use else."""
    if device.platform == "cpu":
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None
    stats = device.memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    return None


# ----------------------------------------------------------------------------------------------
# Common report pieces


def versions() -> dict:
    import flax
    import jaxlib
    import optax

    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "flax": flax.__version__,
            "optax": optax.__version__, "python": platform.python_version(),
            "numpy": np.__version__}


def part_header(part: str, argv: list[str]) -> dict:
    device = jax.devices()[0]
    return {
        "part": part, "device": device.device_kind, "platform": device.platform,
        "device_count": jax.device_count(), "versions": versions(),
        "cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": usable_cores(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.scaling " + shlex.join(argv),
        "default_matmul_precision": str(jax.config.jax_default_matmul_precision),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def load_note(before: tuple, after: tuple, wall_s: float, cpu_s: float) -> dict:
    return {
        "load_average_before": [round(x, 2) for x in before],
        "load_average_after": [round(x, 2) for x in after],
        "wall_s": wall_s, "process_cpu_s": cpu_s,
        "load_note": (f"1/5/15-min load averages {[round(x, 2) for x in before]} before and "
                      f"{[round(x, 2) for x in after]} after, on {usable_cores()} usable cores;"
                      f" this process used {cpu_s:.0f} CPU-s in {wall_s:.0f} s of wall time. "
                      "Other processes may have shared the CPU: on a shared CPU the figures "
                      "are lower bounds (see each row's load_1min and cpu_share)."),
    }


# ----------------------------------------------------------------------------------------------
# Part "updates": SAC updates/s vs width and vmapped seeds

WIDTHS = (256, 512, 1024, 2048, 4096)
SEEDS = (1, 4, 16, 64)
NETWORKS = ("dense+ofenet", "dense", "mlp+ofenet", "mlp")
# Defaults per platform: timed span per cell, target duration of one call, total and per-cell
# time budgets (None: no limit). CPU: the whole default grid fits in about 10 minutes.
DEFAULTS = {"cpu": {"seconds": 2.0, "call_seconds": 0.5, "budget_s": 480.0,
                    "max_cell_s": 60.0, "compile_guess_s": 10.0},
            "accelerator": {"seconds": 5.0, "call_seconds": 0.5, "budget_s": None,
                            "max_cell_s": 300.0, "compile_guess_s": 30.0}}
MEMORY_FRACTION = 0.7  # of the free memory a cell may be estimated to use
SETUP_S = 5.0  # first guess of the rest of a cell: state, batches, tracing, freeing


def updates_config(network: str, width: int) -> ml_collections.ConfigDict:
    kind, _, ofenet = network.partition("+")
    config = agents.default_config("sac")
    config.batch_size = BATCH
    config.network.kind = kind
    config.network.units = width
    config.network.layers = 2
    config.ofenet.enabled = ofenet == "ofenet"
    config.ofenet.total_units = OFENET_UNITS
    config.ofenet.layers = OFENET_LAYERS
    return config


def state_bytes(agent) -> int:
    """Bytes of one seed's AgentState: params, target critics, Adam moments, BatchNorm stats."""
    state = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    return int(sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(state)))


def estimate_memory_bytes(agent, width: int, seeds: int, k: int) -> int:
    """Rough peak bytes of one call: the donated state, 0.5x it for gradients and optimiser
    temporaries, the K batches, and activations (~24 layer outputs of ~2 x width + 1000 floats
    per sample kept for the backward passes)."""
    activations = BATCH * 4 * 24 * (2 * width + 1000)
    return int(seeds * (1.5 * state_bytes(agent) + activations)
               + seeds * k * batch_bytes_per_update())


class CellRunner(Runner):
    """update_throughput's Runner (its call() and finite_losses()) with a cheaper set-up for
    many cells: the initial state of ONE seed from a per-width compiled init, broadcast to
    all seeds (identical starting states; each seed gets its own batches, so the seeds
    diverge after the first update, and the work per update does not depend on the values),
    and the random batches drawn with numpy. `jit(vmap(init))` and a jitted batch generator
    per (seeds, K) cost more to compile on a CPU than the update itself."""

    def __init__(self, agent, init_fn, seeds: int, k: int, seed: int = 0):
        self.seeds, self.k = seeds, k
        state = init_fn(jax.random.PRNGKey(seed))
        if seeds == 1:
            self.state = jax.tree.map(jnp.copy, state)
            lead = (k,)
            fn = jax.jit(agent.update_many, donate_argnums=0)
        else:
            self.state = jax.tree.map(
                lambda x: jnp.broadcast_to(x, (seeds,) + x.shape).copy(), state)
            lead = (seeds, k)
            fn = jax.jit(jax.vmap(agent.update_many), donate_argnums=0)
        del state
        self.batches = jax.device_put(numpy_batches(np.random.default_rng(seed), lead,
                                                    agent.config.gamma))
        jax.block_until_ready((self.state, self.batches))
        start = time.perf_counter()
        self.compiled = fn.lower(self.state, self.batches).compile()
        self.compile_s = time.perf_counter() - start
        self.warmup_s = self.call()  # first execution: allocation, autotuning, caches


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


def _measure_cell(agent, init_fn, seeds: int, k: int, seconds: float, call_seconds: float,
                  min_calls: int) -> dict:
    """Runs one cell; recompiles once with a larger K if the calls are < 1/4 of the target
    (dispatch overhead would dominate)."""
    calibration = []
    cell_start = time.perf_counter()
    while True:
        runner = CellRunner(agent, init_fn, seeds, k)
        first = runner.call()
        new_k = clamp_k(round(k * call_seconds / first), seeds)
        if calibration or first >= call_seconds / 4 or new_k <= k:
            break
        calibration.append({"k": k, "compile_s": runner.compile_s,
                            "warmup_s": runner.warmup_s, "first_call_s": first})
        runner, k = None, new_k
    cpu0, t0 = os.times(), time.perf_counter()
    times = [first]
    while len(times) < min_calls or time.perf_counter() - t0 + first < seconds:
        times.append(runner.call())
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    cpu_s = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    result = {
        "updates_per_call": k, "calls": len(times), "median_call_s": statistics.median(times),
        "min_call_s": min(times), "max_call_s": max(times), "timed_s": sum(times),
        "compile_s": runner.compile_s, "warmup_call_s": runner.warmup_s,
        "calibration": calibration,
        # Share of the usable cores this process got during the timed calls after the first:
        # 1.0 = all of them; lower = other processes took the rest (or XLA left cores idle).
        "cpu_share": (cpu_s / wall / usable_cores()) if len(times) > 1 and wall > 0 else None,
        "finite_losses": runner.finite_losses(),
    }
    del runner  # free the state and batches before the next cell
    result["cell_wall_s"] = time.perf_counter() - cell_start
    # Everything but compiling and the calls: state set-up, batches, tracing, freeing.
    result["setup_s"] = (result["cell_wall_s"] - result["compile_s"] - result["warmup_call_s"]
                         - result["timed_s"] - sum(c["compile_s"] + c["warmup_s"]
                                                   + c["first_call_s"] for c in calibration))
    return result


def run_updates(args, argv: list[str]) -> dict:
    device = jax.devices()[0]
    is_cpu = device.platform == "cpu"
    defaults = DEFAULTS["cpu" if is_cpu else "accelerator"]
    seconds = args.seconds if args.seconds is not None else defaults["seconds"]
    call_seconds = args.call_seconds or defaults["call_seconds"]
    budget_s = args.budget_seconds if args.budget_seconds is not None else defaults["budget_s"]
    budget_s = None if budget_s is not None and budget_s <= 0 else budget_s
    max_cell_s = args.max_cell_seconds or defaults["max_cell_s"]
    skip_label = "skipped (CPU budget)" if is_cpu else "skipped (time budget)"
    peak = device_peak(device)
    widths, seeds_list = args.widths or WIDTHS, args.seeds or SEEDS

    section = part_header("updates", argv)
    section.update({
        "what": "SAC gradient updates/s vs actor/critic width and vmapped seeds",
        "network": {"name": args.network, "torso": args.network.split("+")[0],
                    "hidden_layers": 2, "ofenet": args.network.endswith("+ofenet"),
                    "ofenet_total_units": OFENET_UNITS, "ofenet_layers": OFENET_LAYERS,
                    "num_critics": 2},
        "sizes": {"obs": OBS_SIZE, "action": ACTION_SIZE, "batch": BATCH,
                  "note": "Humanoid-v5 observation and action sizes"},
        "widths": list(widths), "seeds": list(seeds_list),
        "seconds_per_cell": seconds, "target_call_s": call_seconds, "min_calls": args.min_calls,
        "budget_s": budget_s, "max_cell_s": max_cell_s, "memory_fraction": MEMORY_FRACTION,
        "peak": peak,
        "method": ("CellRunner (benchmarks.update_throughput.Runner with one seed's initial "
                   "state broadcast to all seeds and numpy batches): jit(update_many) [vmap "
                   "over seeds], state donated; K random batches on device, reused across "
                   "calls; compile "
                   "and one warm-up call excluded; updates_per_s = K / median call time, per "
                   "seed; total = seeds x that. flops_per_update: "
                   "benchmarks.update_throughput.flops_per_update (analytic matmul FLOPs of "
                   "one seed's update); achieved_flop_per_s = flops_per_update x total "
                   "updates/s; utilisation = achieved / peak.flop_per_s. Cells are run in "
                   "order (seeds, then width); a cell is skipped when its time estimate "
                   "(compile + warm-up + timed calls, from the FLOP/s of the last measured "
                   "cell) exceeds max_cell_s or the remaining budget_s, or its memory "
                   "estimate exceeds memory_fraction of the free memory."),
    })

    load_before, cpu_start, start = os.getloadavg(), os.times(), time.perf_counter()
    guess = GUESS_FLOPS_PER_S.get(device.platform, GUESS_FLOPS_PER_S_ACCELERATOR)
    rate = guess  # FLOP/s of the last measured cell
    compile_guess, setup_guess = defaults["compile_guess_s"], SETUP_S
    init_guess, measured_any = defaults["compile_guess_s"], False
    per_width = {}  # width -> (agent, compiled init or None)
    rows = []
    print(f"# updates: {device.device_kind} ({device.platform}), {args.network}, widths "
          f"{list(widths)}, seeds {list(seeds_list)}; peak {_fmt_flops(peak['flop_per_s'])} "
          f"({peak['kind']}); load average {load_before[0]:.2f}", flush=True)
    for seeds in seeds_list:
        for width in widths:
            if width not in per_width:
                config = updates_config(args.network, width)
                per_width[width] = [agents.make(config, OBS_SIZE, ACTION_SIZE), None]
            agent, init_fn = per_width[width]
            flops = flops_per_update(agent.config)
            update_s = seeds * flops / rate  # one update of every seed, estimated
            k = clamp_k(max(1, round(call_seconds / update_s)), seeds)
            call_s = k * update_s
            estimate = (setup_guess + (init_guess if init_fn is None else 0.0) + compile_guess
                        + call_s * (1 + max(args.min_calls, seconds / call_s)))
            memory = estimate_memory_bytes(agent, width, seeds, k)
            free = free_memory_bytes(device)
            row = {"width": width, "seeds": seeds, "params": param_counts(agent)["total"],
                   "state_bytes_per_seed": state_bytes(agent), "flops_per_update": flops,
                   "estimated_cell_s": round(estimate, 1), "estimated_memory_bytes": memory,
                   "free_memory_bytes": free, "load_1min": round(os.getloadavg()[0], 2)}
            elapsed = time.perf_counter() - start
            reasons = []
            if estimate > max_cell_s:
                reasons.append(f"estimated {estimate:.0f} s > max_cell_s {max_cell_s:g} s")
            elif budget_s is not None and elapsed + estimate > budget_s:
                reasons.append(f"{elapsed:.0f} s elapsed + estimated {estimate:.0f} s > "
                               f"budget_s {budget_s:g} s")
            if free is not None and memory > MEMORY_FRACTION * free:
                reasons.append(f"estimated {memory / 2**30:.1f} GiB > {MEMORY_FRACTION:g} x "
                               f"{free / 2**30:.1f} GiB free")
            if reasons:
                row["status"] = skip_label if "memory" not in reasons[0] else "skipped (memory)"
                row["skip_reasons"] = reasons
            else:
                if init_fn is None:
                    t = time.perf_counter()
                    init_fn = jax.jit(agent.init).lower(jax.random.PRNGKey(0)).compile()
                    per_width[width][1] = init_fn
                    row["init_compile_s"] = init_guess = time.perf_counter() - t
                result = _measure_cell(agent, init_fn, seeds, k, seconds, call_seconds,
                                       args.min_calls)
                per_seed = result["updates_per_call"] / result["median_call_s"]
                achieved = flops * seeds * per_seed
                row.update({"status": "measured", "updates_per_s": per_seed,
                            "total_updates_per_s": seeds * per_seed,
                            "achieved_flop_per_s": achieved,
                            "utilisation": (achieved / peak["flop_per_s"]
                                            if peak.get("flop_per_s") else None), **result})
                rate = achieved
                if measured_any:
                    compile_guess = max(compile_guess, result["compile_s"])
                    setup_guess = max(setup_guess, result["setup_s"])
                else:
                    compile_guess, setup_guess = result["compile_s"], result["setup_s"]
                measured_any = True
            rows.append(row)
            print(_row_line(row), flush=True)
    cpu_end = os.times()
    section.update(load_note(load_before, os.getloadavg(), time.perf_counter() - start,
                             (cpu_end.user + cpu_end.system) - (cpu_start.user
                                                                + cpu_start.system)))
    section["skipped"] = [f"width {r['width']} x {r['seeds']} seeds: {r['status']}: "
                          + "; ".join(r["skip_reasons"])
                          for r in rows if r["status"] != "measured"]
    section["rows"] = rows
    print(updates_table(section))
    return section


def _fmt_flops(x: float | None) -> str:
    if x is None:
        return "n/a"
    for unit, scale in (("TFLOP/s", 1e12), ("GFLOP/s", 1e9)):
        if x >= scale:
            return f"{x / scale:,.1f} {unit}"
    return f"{x / 1e6:,.1f} MFLOP/s"


def _row_line(row: dict) -> str:
    head = f"width {row['width']:5d} seeds {row['seeds']:3d}: "
    if row["status"] != "measured":
        return head + f"{row['status']}: " + "; ".join(row["skip_reasons"])
    util = f"{100 * row['utilisation']:.1f}% of peak" if row["utilisation"] is not None else ""
    return (head + f"{row['updates_per_s']:10.2f} upd/s/seed {row['total_updates_per_s']:10.2f}"
            f" total  {_fmt_flops(row['achieved_flop_per_s'])} {util}  (K="
            f"{row['updates_per_call']}, {row['calls']} calls, compile {row['compile_s']:.1f} s, "
            f"load {row['load_1min']})")


def updates_table(section: dict) -> str:
    cols = ("width", "seeds", "upd/s/seed", "total upd/s", "GFLOP/upd", "GFLOP/s", "% peak",
            "load", "status")
    lines = [cols]
    for r in section["rows"]:
        measured = r["status"] == "measured"
        util = r.get("utilisation")
        lines.append((
            str(r["width"]), str(r["seeds"]),
            f"{r['updates_per_s']:,.2f}" if measured else "-",
            f"{r['total_updates_per_s']:,.2f}" if measured else "-",
            f"{r['flops_per_update'] / 1e9:.1f}",
            f"{r['achieved_flop_per_s'] / 1e9:,.1f}" if measured else "-",
            f"{100 * util:.1f}" if measured and util is not None else "-",
            f"{r['load_1min']:.2f}", r["status"]))
    widths = [max(len(line[i]) for line in lines) for i in range(len(cols))]
    fmt = lambda line: "  ".join(c.ljust(w) if i == len(cols) - 1 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(line, widths)))
    out = [fmt(lines[0]), "  ".join("-" * w for w in widths)]
    return "\n".join(out + [fmt(line) for line in lines[1:]])


def plot_updates(section: dict, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    peak = section["peak"]
    fig, (ax_rate, ax_util) = plt.subplots(1, 2, figsize=(11, 4.2))
    for seeds in section["seeds"]:
        rows = [r for r in section["rows"] if r["seeds"] == seeds and r["status"] == "measured"]
        if not rows:
            continue
        w = [r["width"] for r in rows]
        (line,) = ax_rate.plot(w, [r["updates_per_s"] for r in rows], "o-",
                               label=f"{seeds} seed{'s' if seeds > 1 else ''}")
        if peak.get("flop_per_s"):
            ax_util.plot(w, [100 * r["utilisation"] for r in rows], "o-", color=line.get_color(),
                         label=f"{seeds} seed{'s' if seeds > 1 else ''}")
    for ax in (ax_rate, ax_util):
        ax.set_xscale("log", base=2)
        ax.set_xticks(section["widths"], [str(w) for w in section["widths"]])
        ax.set_xlabel("hidden units per layer (2 layers)")
        ax.grid(alpha=0.3, which="both")
    ax_rate.set_yscale("log")
    ax_rate.yaxis.set_major_locator(matplotlib.ticker.LogLocator(10, subs=(1.0, 2.0, 5.0)))
    ax_rate.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax_rate.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax_rate.set_ylabel("SAC updates/s per seed")
    ax_rate.set_title("updates/s per seed (total = seeds x this)")
    ax_util.set_ylabel("achieved matmul FLOP/s, % of peak")
    ax_util.set_title(f"FLOP utilisation; peak {_fmt_flops(peak.get('flop_per_s'))} "
                      f"{peak.get('precision', '')}"
                      + (" (theoretical)" if section["platform"] == "cpu" else " (datasheet)"),
                      fontsize=10)
    ax_util.set_ylim(bottom=0)
    skipped = [r for r in section["rows"] if r["status"] != "measured"]
    if skipped:
        text = "not run (" + ", ".join(sorted({r["status"].removeprefix("skipped ").strip("()")
                                              for r in skipped})) + "):\n" + "\n".join(
            f"{s} seed{'s' if s > 1 else ''}: width " + ", ".join(
                str(r["width"]) for r in skipped if r["seeds"] == s)
            for s in section["seeds"] if any(r["seeds"] == s for r in skipped))
        ax_util.text(0.98, 0.02, text, transform=ax_util.transAxes, ha="right", va="bottom",
                     fontsize=7, bbox={"facecolor": "white", "alpha": 0.8, "lw": 0.5})
    for ax in (ax_rate, ax_util):
        if ax.lines:
            ax.legend(title="vmapped seeds", fontsize=8)
    net = section["network"]
    fig.suptitle(
        f"SAC, {net['torso']} 2 x width{' + OFENet' if net['ofenet'] else ''}, batch "
        f"{section['sizes']['batch']}, obs {section['sizes']['obs']}, act "
        f"{section['sizes']['action']} -- {section['device']} ({section['platform']}), "
        f"jax {section['versions']['jax']}, {section['date'][:10]}"
        + f"\n1-min load average {section['load_average_before'][0]:.1f} before, "
          f"{section['load_average_after'][0]:.1f} after, on {section['usable_cores']} cores"
          + (" (CPU shared with other processes)" if section["platform"] == "cpu"
             and section["load_average_before"][0] > 0.5 * section["usable_cores"] else ""),
        fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------
# Part "envs": full training-loop throughput vs env.num_envs (and vs data devices)

ENV_COUNTS = {"cpu": (1, 4, 16, 64, 256), "accelerator": (1, 4, 16, 64, 256, 1024, 4096)}
# chunk_seconds: target duration of one learning chunk (sets log_every); learn_chunks: timed
# learning chunks; random_seconds: target timed span of the random phase; the two guesses size
# the first row's chunks (later rows use the rates measured in the row before).
ENVS_DEFAULTS = {"cpu": {"chunk_seconds": 2.0, "learn_chunks": 3, "random_seconds": 1.5,
                         "updates_per_s_guess": 120.0, "random_steps_per_s_guess": 1000.0},
                 "accelerator": {"chunk_seconds": 2.0, "learn_chunks": 3, "random_seconds": 2.0,
                                 "updates_per_s_guess": 1000.0,
                                 "random_steps_per_s_guess": 1000.0}}
MAX_RANDOM_CHUNKS = 200
EPISODE_KEYS = ("episode_return", "episode_length", "episodes", "nonfinite_step",
                "params_finite")
CONFIG_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "configs", "default.py")


def default_train_config() -> ml_collections.ConfigDict:
    """configs/default.py's get_config() (SAC, MLP 256x2, Hopper-v5, 1M replay), loaded by path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_ofe_default_config", CONFIG_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def envs_config(num_envs: int, iterations: int, random_chunks: int, learn_chunks: int,
                backend: str, updates_per_step: float,
                data_devices: int = 1) -> ml_collections.ConfigDict:
    """The default config with num_envs envs, chunks of `iterations` iterations, and the random
    phase ending exactly after 1 (warm-up) + random_chunks chunks."""
    c = default_train_config()
    c.env.num_envs = num_envs
    c.env.backend = backend
    c.updates_per_step = updates_per_step
    c.parallel.data_devices = data_devices
    c.log_every = num_envs * iterations
    c.random_steps = c.log_every * (1 + random_chunks)
    c.total_steps = c.log_every * (1 + random_chunks + learn_chunks)
    return c


def _chunk_plan(num_envs: int, updates_per_step: float, updates_per_s: float,
                random_steps_per_s: float, chunk_seconds: float,
                random_seconds: float) -> tuple[int, int, int]:
    """(iterations per chunk, updates per iteration, random-phase chunks) from rate guesses."""
    k = max(1, round(num_envs * updates_per_step))
    iterations = max(1, round(chunk_seconds * updates_per_s / k))
    steps = num_envs * iterations
    random_chunks = min(MAX_RANDOM_CHUNKS,
                        max(3, math.ceil(random_seconds * random_steps_per_s / steps)))
    return iterations, k, random_chunks


def measure_training(config: ml_collections.ConfigDict, random_chunks: int,
                     learn_chunks: int) -> dict:
    """Trainer(config): init, compile run_chunk, one warm-up chunk (random phase), then
    `random_chunks` timed random-phase chunks and `learn_chunks` timed learning chunks."""
    from ofe_jax.train import Trainer

    start = time.perf_counter()
    trainer = Trainer(config)
    carry = jax.block_until_ready(trainer.init(trainer.seed_keys()))
    init_s = time.perf_counter() - start
    t = time.perf_counter()
    run = trainer.run_chunk.lower(carry).compile()
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    carry, metrics = jax.block_until_ready(run(carry))
    warmup_s = time.perf_counter() - t
    steps = trainer.steps_per_chunk
    out = {"backend": trainer.env.backend, "iterations_per_chunk": trainer.iterations_per_chunk,
           "steps_per_chunk": steps, "updates_per_iteration": trainer.updates_per_iteration,
           "log_every": config.log_every, "random_steps": config.random_steps,
           "init_s": init_s, "compile_s": compile_s, "warmup_chunk_s": warmup_s}
    for phase, chunks in (("random", random_chunks), ("learning", learn_chunks)):
        times, load = [], os.getloadavg()[0]
        cpu0 = os.times()
        for _ in range(chunks):
            t = time.perf_counter()
            carry, metrics = jax.block_until_ready(run(carry))
            times.append(time.perf_counter() - t)
        cpu1 = os.times()
        wall = sum(times)
        cpu_s = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        agent_metrics = [np.asarray(v) for k, v in metrics.items() if k not in EPISODE_KEYS]
        out[phase] = {
            "chunks": chunks, "env_steps": chunks * steps, "seconds": wall,
            "env_steps_per_s": chunks * steps / wall,
            "median_chunk_env_steps_per_s": steps / statistics.median(times),
            "chunk_s": [round(x, 4) for x in times],
            # Agent losses are NaN in a chunk without updates: False in the random phase and
            # True in the learning phase show that each phase ran what it should.
            "updates_ran_in_last_chunk": bool(agent_metrics) and all(
                bool(np.all(np.isfinite(m))) for m in agent_metrics),
            "load_1min": round(load, 2),
            "cpu_share": cpu_s / wall / usable_cores() if wall > 0 else None,
        }
    out["final_step"] = int(carry.step)
    del carry, run, trainer
    return out


def _envs_row(num_envs: int, args, plan: tuple, data_devices: int = 1) -> dict:
    iterations, _, random_chunks = plan
    row = {"num_envs": num_envs, "data_devices": data_devices,
           "updates_per_step": args.updates_per_step}
    try:
        config = envs_config(num_envs, iterations, random_chunks, args.learn_chunks,
                             args.backend, args.updates_per_step, data_devices)
        result = measure_training(config, random_chunks, args.learn_chunks)
    except Exception as error:  # noqa: BLE001 -- one bad row (memory, backend) must not lose the others
        row.update({"status": f"error: {type(error).__name__}: {error}"[:500]})
        return row
    learning = result["learning"]
    row.update({"status": "measured",
                "random_env_steps_per_s": result["random"]["env_steps_per_s"],
                "learning_env_steps_per_s": learning["env_steps_per_s"],
                # As asked: env-steps/s x updates_per_step; and the updates actually run
                # (round(num_envs x updates_per_step), at least 1, per iteration).
                "updates_per_s": learning["env_steps_per_s"] * args.updates_per_step,
                "actual_updates_per_s": (learning["env_steps_per_s"] / num_envs
                                         * result["updates_per_iteration"]),
                **result})
    return row


def _envs_line(row: dict) -> str:
    head = f"num_envs {row['num_envs']:5d} data_devices {row['data_devices']}: "
    if row["status"] != "measured":
        return head + row["status"]
    return (head + f"random {row['random_env_steps_per_s']:10.1f} steps/s  learning "
            f"{row['learning_env_steps_per_s']:8.1f} steps/s {row['updates_per_s']:8.1f} upd/s"
            f"  (chunk {row['steps_per_chunk']} steps, compile {row['compile_s']:.1f} s, "
            f"learning chunks {row['learning']['chunk_s']} s, load "
            f"{row['learning']['load_1min']}, backend {row['backend']})")


def run_envs(args, argv: list[str]) -> dict:
    device = jax.devices()[0]
    kind = "cpu" if device.platform == "cpu" else "accelerator"
    defaults = ENVS_DEFAULTS[kind]
    for name in ("chunk_seconds", "learn_chunks", "random_seconds"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    counts = args.num_envs or ENV_COUNTS[kind]
    section = part_header("envs", argv)
    base = default_train_config()
    section.update({
        "what": "full training-loop throughput (Trainer.run_chunk) vs env.num_envs",
        "config": {"file": "configs/default.py", "env": base.env.name,
                   "agent": base.agent.name,
                   "network": f"{base.agent.network.kind} {base.agent.network.units}x"
                              f"{base.agent.network.layers}",
                   "ofenet": bool(base.agent.ofenet.enabled),
                   "batch_size": base.agent.batch_size, "replay_capacity": base.replay.capacity,
                   "prioritized": bool(base.replay.prioritized), "seeds": base.seeds,
                   "backend_requested": args.backend,
                   "updates_per_step": args.updates_per_step},
        "num_envs": list(counts), "chunk_seconds": args.chunk_seconds,
        "learn_chunks": args.learn_chunks, "random_seconds": args.random_seconds,
        "method": ("One Trainer per row, configs/default.py with env.num_envs = N, "
                   "log_every = N x iterations (iterations chosen from the updates/s measured "
                   "in the row before, so one learning chunk takes about chunk_seconds), and "
                   "random_steps = log_every x (1 + random_chunks): the first chunk (compiled "
                   "ahead with run_chunk.lower().compile(), then run once as warm-up; both "
                   "excluded) and random_chunks timed chunks are random phase (uniform actions,"
                   " env step + replay add, no updates), the next learn_chunks timed chunks "
                   "are all learning (policy actions, env step, replay add, "
                   "round(N x updates_per_step) SAC updates per iteration). Both phases thus "
                   "run the same compiled program (lax.cond on the step), as in a real run. "
                   "env_steps_per_s = timed env steps / timed seconds of the phase; "
                   "updates_per_s = learning env_steps_per_s x updates_per_step. In the "
                   "learning chunks the replay holds only the random-phase transitions plus "
                   "those added since (not 1M): sampling gathers from a small, cache-warm "
                   "region."),
    })
    load_before, cpu_start, start = os.getloadavg(), os.times(), time.perf_counter()
    print(f"# envs: {device.device_kind} ({device.platform}), num_envs {list(counts)}, backend "
          f"{args.backend}, updates_per_step {args.updates_per_step}; load average "
          f"{load_before[0]:.2f}", flush=True)
    ups_guess = args.updates_per_s_guess or defaults["updates_per_s_guess"]
    random_guess = defaults["random_steps_per_s_guess"]
    rows = []
    for n in counts:
        plan = _chunk_plan(n, args.updates_per_step, ups_guess, random_guess,
                           args.chunk_seconds, args.random_seconds)
        row = _envs_row(n, args, plan)
        if row["status"] == "measured":
            ups_guess = row["actual_updates_per_s"]
            random_guess = row["random_env_steps_per_s"]
        rows.append(row)
        print(_envs_line(row), flush=True)
    section["rows"] = rows

    count = jax.device_count()
    data_envs = args.data_envs or max(counts)
    if count <= 1:
        section["data_devices"] = {
            "status": "single device",
            "device_count": count,
            "note": "jax.device_count() == 1: env-steps/s vs parallel.data_devices not run."}
    else:
        sweep = []
        base_batch = base.agent.batch_size
        for d in range(1, count + 1):
            if data_envs % d or base_batch % d or base.replay.capacity % d:
                sweep.append({"num_envs": data_envs, "data_devices": d,
                              "status": f"skipped: {d} does not divide num_envs {data_envs}, "
                                        f"batch {base_batch} or capacity "
                                        f"{base.replay.capacity}"})
                print(_envs_line(sweep[-1]), flush=True)
                continue
            plan = _chunk_plan(data_envs, args.updates_per_step, ups_guess, random_guess,
                               args.chunk_seconds, args.random_seconds)
            sweep.append(_envs_row(data_envs, args, plan, data_devices=d))
            print(_envs_line(sweep[-1]), flush=True)
        section["data_devices"] = {"status": "measured", "device_count": count,
                                   "num_envs": data_envs, "rows": sweep}
    cpu_end = os.times()
    section.update(load_note(load_before, os.getloadavg(), time.perf_counter() - start,
                             (cpu_end.user + cpu_end.system) - (cpu_start.user
                                                                + cpu_start.system)))
    print(envs_table(section))
    return section


def envs_table(section: dict) -> str:
    cols = ("num_envs", "data_dev", "random steps/s", "learning steps/s", "updates/s",
            "steps/chunk", "learn chunk s", "compile s", "load", "status")
    lines = [cols]
    rows = list(section["rows"])
    if section.get("data_devices", {}).get("rows"):
        rows += section["data_devices"]["rows"]
    for r in rows:
        ok = r["status"] == "measured"
        lines.append((
            str(r["num_envs"]), str(r["data_devices"]),
            f"{r['random_env_steps_per_s']:,.0f}" if ok else "-",
            f"{r['learning_env_steps_per_s']:,.1f}" if ok else "-",
            f"{r['updates_per_s']:,.1f}" if ok else "-",
            str(r["steps_per_chunk"]) if ok else "-",
            f"{statistics.median(r['learning']['chunk_s']):.2f}" if ok else "-",
            f"{r['compile_s']:.1f}" if ok else "-",
            f"{r['learning']['load_1min']:.2f}" if ok else "-", r["status"][:60]))
    widths = [max(len(line[i]) for line in lines) for i in range(len(cols))]
    fmt = lambda line: "  ".join(c.ljust(w) if i == len(cols) - 1 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(line, widths)))
    out = [fmt(lines[0]), "  ".join("-" * w for w in widths)]
    if section.get("data_devices", {}).get("status") == "single device":
        lines.append(("data_devices sweep: single device (skipped)",))
        return "\n".join(out + [fmt(line) for line in lines[1:-1]]
                         + ["data_devices sweep: single device, skipped"])
    return "\n".join(out + [fmt(line) for line in lines[1:]])


def plot_envs(section: dict, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in section["rows"] if r["status"] == "measured"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    n = [r["num_envs"] for r in rows]
    ax.plot(n, [r["random_env_steps_per_s"] for r in rows], "o-", label="env-steps/s, random")
    ax.plot(n, [r["learning_env_steps_per_s"] for r in rows], "s-",
            label="env-steps/s, learning")
    ax.plot(n, [r["updates_per_s"] for r in rows], "^--", label="updates/s, learning")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(n, [str(x) for x in n])
    ax.set_xlabel("env.num_envs")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    cfg = section["config"]
    ax.set_title(f"{cfg['agent'].upper()} {cfg['network']}, {cfg['env']}, updates_per_step "
                 f"{cfg['updates_per_step']} -- {section['device']}, jax "
                 f"{section['versions']['jax']}\nload {section['load_average_before'][0]:.1f} "
                 f"before, {section['load_average_after'][0]:.1f} after, "
                 f"{section['usable_cores']} cores", fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------
# Part "per": prioritised sample + priority update vs a uniform sample

PER_CAPACITIES = (1_000_000, 100_000)
PER_OBS, PER_ACTION = 17, 6  # HalfCheetah-v5
PER_ALPHA, PER_EPS, PER_BETA = 0.6, 1e-6, 0.4
FILL_CHUNK = 100_000


def _per_buffers(capacity: int, rng: np.random.Generator):
    """A full uniform buffer and a full prioritised buffer of `capacity` random transitions
    (filled with their own `add`, jitted and donated, FILL_CHUNK at a time), the prioritised
    one then given random priorities (|N(0, 1)| TD errors) through its own `update`."""
    from ofe_jax import prioritized, replay

    example = agents.Transition(jnp.zeros((PER_OBS,)), jnp.zeros((PER_ACTION,)), jnp.zeros(()),
                                jnp.zeros(()), jnp.zeros((PER_OBS,)))
    uniform = replay.init(capacity, example)
    per = prioritized.init(capacity, example)
    add_u = jax.jit(replay.add, donate_argnums=0)
    add_p = jax.jit(prioritized.add, donate_argnums=0)
    set_p = jax.jit(prioritized.update, donate_argnums=0)
    chunk = min(capacity, FILL_CHUNK)
    for start in range(0, capacity, chunk):
        items = agents.Transition(
            rng.standard_normal((chunk, PER_OBS), dtype=np.float32),
            rng.uniform(-1, 1, (chunk, PER_ACTION)).astype(np.float32),
            rng.standard_normal((chunk,), dtype=np.float32),
            np.full((chunk,), 0.99, np.float32),
            rng.standard_normal((chunk, PER_OBS), dtype=np.float32))
        items = jax.device_put(items)
        uniform = add_u(uniform, items)
        per = add_p(per, items)
        index = (jnp.arange(chunk, dtype=jnp.int32) + start) % capacity
        per = set_p(per, index, jnp.asarray(np.abs(rng.standard_normal(chunk)), jnp.float32),
                    PER_ALPHA, PER_EPS)
    jax.block_until_ready((uniform, per))
    assert int(uniform.size) == capacity and int(per.buffer.size) == capacity
    return uniform, per


def _batch_sum(batch) -> jax.Array:
    return sum(jnp.sum(x) for x in jax.tree.leaves(batch))


def _time_calls(call: Callable[[], object], seconds: float, min_calls: int) -> list[float]:
    for _ in range(3):  # warm-up
        jax.block_until_ready(call())
    times, start = [], time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - t)
    return times


def _per_ops(scan_ops: int):
    """The measured functions. Per call: one op per jitted call (dispatch included). In scan:
    `scan_ops` ops in one lax.scan (the trainer's setting), each op's batch summed into the
    carry so that nothing is dead code; per-op time = call time / scan_ops."""
    from ofe_jax import prioritized, replay

    def per_step(state, key):
        batch, index, weight = prioritized.sample(state, key, BATCH, PER_BETA)
        td_abs = jnp.abs(batch.reward) * weight  # depends on the sampled items
        return prioritized.update(state, index, td_abs, PER_ALPHA, PER_EPS), batch, weight

    def uniform_scan(state, keys):
        return jax.lax.scan(lambda acc, k: (acc + _batch_sum(replay.sample(state, k, BATCH)),
                                            None), jnp.zeros(()), keys)[0]

    def per_scan(state, keys):
        def body(carry, k):
            state, acc = carry
            state, batch, weight = per_step(state, k)
            return (state, acc + _batch_sum(batch) + jnp.sum(weight)), None
        return jax.lax.scan(body, (state, jnp.zeros(())), keys)[0]

    def per_sample_scan(state, keys):
        def body(acc, k):
            batch, _, weight = prioritized.sample(state, k, BATCH, PER_BETA)
            return acc + _batch_sum(batch) + jnp.sum(weight), None
        return jax.lax.scan(body, jnp.zeros(()), keys)[0]

    return {
        "uniform_sample": {
            "call": jax.jit(lambda s, k: replay.sample(s, k, BATCH)), "donate": False,
            "scan": jax.jit(uniform_scan), "scan_donate": False},
        "per_sample_and_update": {
            "call": jax.jit(lambda s, k: per_step(s, k)[0], donate_argnums=0), "donate": True,
            "scan": jax.jit(per_scan, donate_argnums=0), "scan_donate": True},
        "per_sample_only": {
            "call": jax.jit(lambda s, k: prioritized.sample(s, k, BATCH, PER_BETA)),
            "donate": False, "scan": jax.jit(per_sample_scan), "scan_donate": False},
    }


def _measure_per_op(op: dict, state, key, keys, seconds: float, scan_ops: int):
    """(timings, the state after them) of one op of `_per_ops`; a donated op's state is
    threaded through its calls."""
    result, holder = {}, [state]
    for mode, arg, min_calls, donate in (("call", key, 200, op["donate"]),
                                         ("scan", keys, 5, op["scan_donate"])):
        t = time.perf_counter()
        compiled = op[mode].lower(holder[0], arg).compile()
        result["compile_s" if mode == "call" else "scan_compile_s"] = time.perf_counter() - t

        def call(compiled=compiled, arg=arg, donate=donate, mode=mode):
            out = compiled(holder[0], arg)
            if not donate:
                return out
            if mode == "scan":
                holder[0], out = out
                return out
            holder[0] = out
            return out

        times = _time_calls(call, seconds, min_calls)
        if mode == "call":
            result["per_call_us"] = 1e6 * statistics.median(times)
            result["per_call_calls"] = len(times)
            result["per_call_min_us"] = 1e6 * min(times)
        else:
            result["in_scan_us"] = 1e6 * statistics.median(times) / scan_ops
            result["in_scan_calls"] = len(times)
    return result, holder[0]


def run_per(args, argv: list[str]) -> dict:
    capacities = args.capacities or PER_CAPACITIES
    section = part_header("per", argv)
    section.update({
        "what": ("one proportional-PER sample (batch 256) + priority update vs one uniform "
                 "replay.sample (batch 256)"),
        "sizes": {"obs": PER_OBS, "action": PER_ACTION, "batch": BATCH,
                  "note": "HalfCheetah-v5 sizes; float32 storage, 168 bytes per transition"},
        "alpha": PER_ALPHA, "eps": PER_EPS, "beta": PER_BETA, "capacities": list(capacities),
        "seconds_per_measurement": args.per_seconds, "scan_ops": args.scan_ops,
        "method": ("Buffers filled to capacity with random transitions by their own add "
                   f"(jitted, donated, {FILL_CHUNK} at a time); the prioritised one then gets "
                   "priorities (|N(0,1)| + eps)^alpha on every slot via prioritized.update. "
                   "per_call: one op per jitted call (PER: state donated, the tree updated in "
                   "place), block_until_ready, 3 warm-up calls, then calls for "
                   "seconds_per_measurement (>= 200); median in microseconds, including "
                   "dispatch. in_scan: scan_ops ops in one jitted lax.scan (as in the trainer), "
                   "each batch summed into the carry so nothing is dead code (the sum, ~10k "
                   "adds, is in both); median call time / scan_ops. PER sample+update = "
                   "prioritized.sample (stratified descent of the sum tree, O(B log L), plus "
                   "one O(capacity) min over the leaves for the max-weight normalisation) and "
                   "prioritized.update (O(B log L)) with td_abs = |reward| x weight. ratio = "
                   "PER sample+update / uniform sample."),
    })
    load_before, cpu_start, start = os.getloadavg(), os.times(), time.perf_counter()
    print(f"# per: {jax.devices()[0].device_kind}, capacities {list(capacities)}, batch {BATCH};"
          f" load average {load_before[0]:.2f}", flush=True)
    rng = np.random.default_rng(0)
    rows = []
    for capacity in capacities:
        t = time.perf_counter()
        uniform, per = _per_buffers(capacity, rng)
        row = {"capacity": capacity, "fill_s": time.perf_counter() - t,
               "load_1min": round(os.getloadavg()[0], 2)}
        keys = jax.random.split(jax.random.PRNGKey(1), args.scan_ops)
        key = jax.random.PRNGKey(2)
        for name, op in _per_ops(args.scan_ops).items():
            is_per = name.startswith("per")
            result, state = _measure_per_op(op, per if is_per else uniform, key, keys,
                                            args.per_seconds, args.scan_ops)
            if is_per:
                per = state  # the donated ops return the (updated) prioritised state
            row[name] = result
            print(f"capacity {capacity:8d} {name:22s}: per call {result['per_call_us']:9.1f} us"
                  f"  in scan {result['in_scan_us']:9.1f} us  (load "
                  f"{os.getloadavg()[0]:.2f})", flush=True)
        u, p = row["uniform_sample"], row["per_sample_and_update"]
        row["ratio_per_call"] = p["per_call_us"] / u["per_call_us"]
        row["ratio_in_scan"] = p["in_scan_us"] / u["in_scan_us"]
        row["tree_bytes"] = int(per.tree.size * per.tree.dtype.itemsize)
        row["buffer_bytes"] = int(sum(x.size * x.dtype.itemsize
                                      for x in jax.tree.leaves(uniform.data)))
        rows.append(row)
        del uniform, per
    section["rows"] = rows
    cpu_end = os.times()
    section.update(load_note(load_before, os.getloadavg(), time.perf_counter() - start,
                             (cpu_end.user + cpu_end.system) - (cpu_start.user
                                                                + cpu_start.system)))
    print(per_table(section))
    return section


def per_table(section: dict) -> str:
    cols = ("capacity", "mode", "uniform us", "PER smp+upd us", "PER smp only us", "ratio")
    lines = [cols]
    for r in section["rows"]:
        for mode, key in (("per call", "per_call_us"), ("in scan", "in_scan_us")):
            lines.append((f"{r['capacity']:,}", mode, f"{r['uniform_sample'][key]:.1f}",
                          f"{r['per_sample_and_update'][key]:.1f}",
                          f"{r['per_sample_only'][key]:.1f}",
                          f"{r['ratio_' + key.removesuffix('_us')]:.1f}x"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(cols))]
    fmt = lambda line: "  ".join(c.rjust(w) for c, w in zip(line, widths))
    return "\n".join([fmt(lines[0]), "  ".join("-" * w for w in widths)]
                     + [fmt(line) for line in lines[1:]])


# ----------------------------------------------------------------------------------------------
# Parts registry and command line


@dataclasses.dataclass(frozen=True)
class Part:
    run: Callable[[argparse.Namespace, list], dict]  # -> the JSON section of this part
    plot: Callable[[dict, str], str] | None = None  # (section, path) -> path
    default_plot: str | None = None  # file name next to --out


PARTS = {
    "updates": Part(run_updates, plot_updates, "scaling.png"),
    # No default plot file for these two: pass --plot PATH for the envs plot.
    "envs": Part(run_envs, plot_envs, None),
    "per": Part(run_per, None, None),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    updates = parser.add_argument_group("--part updates")
    updates.add_argument("--network", choices=NETWORKS, default="dense+ofenet",
                         help="torso kind, 2 hidden layers of --widths units, +OFENet or not")
    updates.add_argument("--widths", nargs="*", type=int, help=f"default {list(WIDTHS)}")
    updates.add_argument("--seeds", nargs="*", type=int, help=f"default {list(SEEDS)}")
    updates.add_argument("--seconds", type=float, default=None,
                         help="timed span per cell (default: 2 on CPU, 5 on accelerators)")
    updates.add_argument("--call-seconds", type=float, default=None,
                         help="target duration of one call, sets K (default 0.5)")
    updates.add_argument("--min-calls", type=int, default=2,
                         help="timed calls per cell at least (default 2)")
    updates.add_argument("--budget-seconds", type=float, default=None,
                         help="skip cells that would end after this many seconds (default: "
                              "480 on CPU, no limit on accelerators; <= 0: no limit)")
    updates.add_argument("--max-cell-seconds", type=float, default=None,
                         help="skip cells estimated to take longer (default: 60 on CPU, 300 "
                              "on accelerators)")
    envs = parser.add_argument_group("--part envs")
    envs.add_argument("--num-envs", nargs="*", type=int,
                      help=f"env.num_envs values (default {list(ENV_COUNTS['cpu'])} on CPU, "
                           f"{list(ENV_COUNTS['accelerator'])} on accelerators)")
    envs.add_argument("--backend", default="auto", choices=("auto", "mjx", "mujoco", "warp"),
                      help="env.backend (default auto: mjx on GPU/TPU, C MuJoCo on CPU)")
    envs.add_argument("--updates-per-step", type=float, default=1.0,
                      help="updates_per_step (default 1.0)")
    envs.add_argument("--chunk-seconds", type=float, default=None,
                      help="target duration of one learning chunk (default 2)")
    envs.add_argument("--learn-chunks", type=int, default=None,
                      help="timed learning chunks per row (default 3)")
    envs.add_argument("--random-seconds", type=float, default=None,
                      help="target timed span of the random phase per row (default 1.5 on "
                           "CPU, 2 on accelerators)")
    envs.add_argument("--updates-per-s-guess", type=float, default=None,
                      help="updates/s guess sizing the first row's chunks (default 120 on "
                           "CPU, 1000 on accelerators; later rows use the measured rate)")
    envs.add_argument("--data-envs", type=int, default=None,
                      help="num_envs of the data_devices sweep (only with > 1 device; "
                           "default: the largest --num-envs)")
    per = parser.add_argument_group("--part per")
    per.add_argument("--capacities", nargs="*", type=int,
                     help=f"replay capacities (default {list(PER_CAPACITIES)})")
    per.add_argument("--per-seconds", type=float, default=2.0,
                     help="timed span of each measurement (default 2)")
    per.add_argument("--scan-ops", type=int, default=100,
                     help="ops per jitted lax.scan call for the in-scan figures (default 100)")


def write_section(path: str, name: str, section: dict) -> None:
    """Writes parts[name] = section into the JSON at path, keeping its other parts."""
    report = {"benchmark": "scaling", "parts": {}}
    if os.path.exists(path):
        try:
            with open(path) as f:
                old = json.load(f)
            if old.get("benchmark") == "scaling":
                report["parts"].update(old.get("parts", {}))
        except (OSError, ValueError):
            pass
    report["parts"][name] = section
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=2, allow_nan=True)
        f.write("\n")


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), required=True)
    parser.add_argument("--out", default="benchmarks/results/scaling.json",
                        help="JSON to write the part's section into (other parts are kept)")
    parser.add_argument("--plot", default=None,
                        help="plot path (default: the part's file name next to --out; '' for "
                             "no plot)")
    parser.add_argument("--note", default="", help="free text stored in the part's section")
    add_arguments(parser)
    args = parser.parse_args(argv)
    part = PARTS[args.part]
    section = part.run(args, argv)
    if args.note:
        section["note"] = args.note
    plot = args.plot
    if plot is None and part.default_plot:
        plot = os.path.join(os.path.dirname(os.path.abspath(args.out)), part.default_plot)
    if plot and part.plot:
        section["plot"] = os.path.relpath(plot)
        part.plot(section, plot)
        print(f"# wrote {plot}")
    write_section(args.out, args.part, section)
    print(f"# wrote {args.out} (part {args.part!r}, {section.get('wall_s', math.nan):.0f} s)")
    return section


if __name__ == "__main__":
    main()
