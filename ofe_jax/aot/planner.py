"""A run planned for a device without running it: every program the run executes compiled for
the target (the Trainer's own jitted functions, as `ofe_jax.main` builds them), with its memory,
what one execution does, and a projected wall time for the whole run.

    report = planner.plan(config, targets.load("h100"))          # a JSON-able dict
    report["fit_seeds"] = planner.fit_seeds(config, target)      # largest seeds that fit

"auto" resolves as on the target: the mjx backend on a GPU, C MuJoCo on a CPU. One device only
(a plan of a multi-device mesh would need that many devices in the topology).
"""

from __future__ import annotations

import time

import jax
import ml_collections

from ofe_jax.aot import flops as flops_lib, hlo, model, physics
from ofe_jax.errors import ConfigError


def target_config(config: ml_collections.ConfigDict, target) -> ml_collections.ConfigDict:
    """The config as it runs on the target: env.backend "auto" resolved for it."""
    c = config.copy_and_resolve_references()
    p = c.parallel
    if p.seeds_devices * p.data_devices > 1 or p.num_processes > 1:
        raise ConfigError(f"the plan compiles for one device; got parallel.seeds_devices x "
                          f"data_devices = {p.seeds_devices} x {p.data_devices} and "
                          f"num_processes={p.num_processes} (plan one device's share: seeds / "
                          f"seeds_devices)")
    if c.env.backend == "auto":
        c.env.backend = "mujoco" if target.platform == "cpu" else "mjx"
    return c


def precision_of(config: ml_collections.ConfigDict) -> str:
    """The matmul precision of the networks: "bfloat16", or the float32 setting."""
    if config.agent.compute_dtype == "bfloat16":
        return "bfloat16"
    return config.agent.get("matmul_precision", "default")


def _memory(compiled) -> dict:
    m = compiled.memory_analysis()
    sizes = {k: int(getattr(m, f"{k}_size_in_bytes")) for k in
             ("argument", "output", "alias", "temp", "generated_code")}
    sizes["total"] = sizes["argument"] + sizes["output"] - sizes["alias"] + sizes["temp"]
    return sizes


def _one_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return f"{type(e).__name__}: {lines[0][:240] if lines else ''}"


def compile_program(fn, args, target, trips_for, with_counts: bool = True) -> dict:
    """One program lowered and compiled for the target: memory, counts, flops, times."""
    tick = time.perf_counter()
    try:
        traced = fn.trace(*args)
        compiled = traced.lower().compile()
    except Exception as e:  # noqa: BLE001 - report any compiler failure, in one line
        return {"compiled": False, "error": _one_line(e),
                "compile_s": round(time.perf_counter() - tick, 2)}
    out = {"compiled": True, "compile_s": round(time.perf_counter() - tick, 2),
           "memory": _memory(compiled)}
    if with_counts:
        out["counts"] = hlo.count(compiled.as_text(), trips_for).as_dict()
        out["matmul_flops"] = flops_lib.matmul_flops(traced.jaxpr, trips_for)
    return out


def _envs_per_callback(name: str, trainer) -> int:
    """Envs a host callback of program `name` steps (C MuJoCo backend)."""
    p = trainer.plan
    return p.members * (p.eval_episodes if name == "eval_return" else p.num_envs)


def plan(config: ml_collections.ConfigDict, target, programs: tuple[str, ...] | None = None
         ) -> dict:
    """The plan of `config` on `target` (module docstring); programs: a subset to compile."""
    from ofe_jax.training import schedule
    from ofe_jax.training.trainer import Trainer

    c = target_config(config, target)
    trainer = Trainer(c, platform=target.platform)
    p = trainer.plan
    profile = physics.profile(trainer.env, p.members * p.num_envs)
    trips_for = physics.trip_rule(profile if trainer.env.backend == "mjx" else None,
                                  c.env.episode_length)
    listed = trainer.programs(target.platform, target.sharding())
    lengths = dict(trainer.pacing.length)
    runs = schedule.program_runs(c, p, lengths)
    precision = precision_of(c)
    out = {}
    for name, (fn, args) in listed.items():
        if programs is not None and name not in programs:
            continue
        result = compile_program(fn, args, target, trips_for)
        if result["compiled"]:
            result["seconds"] = model.program_seconds(
                result["counts"], result["matmul_flops"], target, precision,
                profile["host_step_s"], _envs_per_callback(name, trainer))
        result["runs"] = runs.get(name, 0)
        if name in lengths:
            result["iterations_per_call"] = lengths[name]
        out[name] = result
    carry_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(
        trainer.abstract_carry(target.sharding())))
    return _summarise(c, target, trainer, out, runs, carry_bytes, profile, precision)


def _summarise(c, target, trainer, programs, runs, carry_bytes, profile, precision) -> dict:
    p = trainer.plan
    compiled = {k: v for k, v in programs.items() if v["compiled"]}
    peak = max((v["memory"]["total"] for v in compiled.values()), default=0)
    usable = int(target.memory_bytes * target.usable_fraction)
    report = {
        "config": {"env": c.env.name, "agent": c.agent.name, "network": c.agent.network.kind,
                   "units": c.agent.network.units, "ofenet": bool(c.agent.ofenet.enabled),
                   "seeds": c.seeds, "members": p.members, "num_envs": p.num_envs,
                   "backend": c.env.backend, "total_steps": p.total_steps,
                   "iterations_per_chunk": p.iterations_per_chunk,
                   "updates_per_iteration": p.updates_per_iteration,
                   "replay_obs_dtype": c.replay.obs_dtype, "precision": precision},
        "target": {"name": target.name, "device_kind": target.device_kind,
                   "memory_bytes": target.memory_bytes, "usable_bytes": usable,
                   "peaks": target.peaks, "bandwidth": target.bandwidth,
                   "launch_s": target.launch_s, "sync_s": target.sync_s,
                   "sources": target.sources},
        "programs": programs,
        "memory": {"peak_bytes": peak, "carry_bytes": carry_bytes, "fits": peak <= usable,
                   "peak_program": max(compiled, key=lambda k: compiled[k]["memory"]["total"])
                   if compiled else None},
        "physics": profile,
        "all_compiled": len(compiled) == len(programs),
    }
    chunk = compiled.get("learn")
    if chunk is not None:
        iterations = chunk["iterations_per_call"]
        per = {k: v / iterations for k, v in chunk["counts"].items()
               if k in ("kernels", "library_calls", "syncs", "callbacks", "bytes")}
        per["matmul_flops"] = chunk["matmul_flops"] / iterations
        per["seconds"] = chunk["seconds"]["total_s"] / iterations
        report["per_iteration"] = per
        report["unknown_loops"] = chunk["counts"]["unknown_loops"]
    if len(compiled) == len(programs):
        projection = model.run_seconds(compiled, runs, carry_bytes, target)
        report["projection"] = {**projection, "hours": projection["total_s"] / 3600,
                                "label": "projection (not measured)", "model": model.MODEL}
    return report


def _fits(config, target, seeds: int, cache: dict) -> tuple[bool, int]:
    """Whether `seeds` seeds fit (init and learn: the programs holding the carry and the
    updates' temporaries), and the larger of their memory totals."""
    if seeds not in cache:
        c = config.copy_and_resolve_references()
        c.seeds = seeds
        cache[seeds] = _fit_of(plan(c, target, programs=FIT_PROGRAMS), target)
    return cache[seeds]


FIT_PROGRAMS = ("init", "learn")


def _fit_of(report: dict, target) -> tuple[bool, int]:
    """(fits, bytes) of a plan's FIT_PROGRAMS, as _fits records them."""
    listed = [report["programs"][k] for k in FIT_PROGRAMS if k in report["programs"]]
    ok = len(listed) == len(FIT_PROGRAMS) and all(v["compiled"] for v in listed)
    peak = max((v["memory"]["total"] for v in listed if v["compiled"]), default=0)
    return ok and peak <= int(target.memory_bytes * target.usable_fraction), peak


def fit_seeds(config: ml_collections.ConfigDict, target, limit: int = 1 << 14,
              report: dict | None = None) -> dict:
    """The largest `seeds` whose programs fit the target's usable memory, by compiles, checked
    at the boundary (n fits, n + 1 does not). Memory grows about affinely with the seeds, so the
    next probe is the secant estimate through the last two probes, kept strictly inside the
    bracket found so far; a bisection step follows an estimate that did not halve the bracket
    (a doubling step, while nothing larger is known not to fit, follows two estimates in a row
    that had to be clipped). `report`: the plan of `config` itself, whose init and learn
    compiles then count as the first probe."""
    cache: dict = {}
    if report is not None and report["config"]["seeds"] == config.seeds:
        cache[config.seeds] = _fit_of(report, target)
    fits = lambda n: _fits(config, target, n, cache)[0]
    usable = target.memory_bytes * target.usable_fraction
    base = config.seeds
    fits(base)
    if base == 1 and not cache[1][0]:
        return {"seeds": 0, "next_does_not_fit": 1, "probes": _probes(cache)}
    fits(base * 2 if cache[base][0] else max(1, base // 2))
    clipped, width = 0, None  # estimates clipped in a row; the bracket before the last one
    while True:
        lo = max((s for s, (f, _) in cache.items() if f), default=0)
        hi = min((s for s, (f, _) in cache.items() if not f), default=None)
        if lo >= limit:
            return {"seeds": lo, "limit": limit, "probes": _probes(cache)}
        if hi is not None and hi - lo <= 1:
            return {"seeds": lo, "next_does_not_fit": hi, "probes": _probes(cache)}
        top = limit + 1 if hi is None else hi
        if width is not None and top - lo > width / 2:  # the estimate did not halve it
            guess, width, clipped = (lo + top) // 2, None, 0
        elif hi is None and clipped >= 2:
            guess, clipped = min(limit, max(1, lo) * 2), 0
        else:
            (s0, (_, b0)), (s1, (_, b1)) = list(cache.items())[-2:]
            slope = (b1 - b0) / (s1 - s0)
            estimate = int(s1 + (usable - b1) // slope) if slope > 0 else top
            guess = min(max(estimate, lo + 1), top - 1)
            clipped = clipped + 1 if guess != estimate else 0
            width = top - lo if hi is not None else None
        fits(guess)


def _probes(cache: dict) -> list:
    return [{"seeds": s, "fits": f, "peak_bytes": b} for s, (f, b) in sorted(cache.items())]
