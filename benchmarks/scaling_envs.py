"""Full training-loop throughput against env.num_envs (and parallel.data_devices with several
devices): env-steps/s of the random phase and of the learning phase, and updates/s (part "envs"
of scaling.json).

One ``ofe_jax.training.Trainer`` per row: ofe_jax.config.defaults (SAC, MLP 256x2, Hopper-v5,
1M replay) with env.num_envs = N, chunks sized from the rates of the row before so that one
learning chunk takes about ``--chunk-seconds``, and random_steps ending exactly after
1 (warm-up) + R chunks, so that R timed chunks are random phase and ``--learn-chunks`` timed
chunks are learning (see METHOD).

    python -m benchmarks.scaling_envs --out benchmarks/results/scaling_cpu.json
    python -m benchmarks.scaling_envs --num-envs 1 4 --learn-chunks 1 --chunk-seconds 0.5 \\
        --random-seconds 0.5 --out /tmp/scaling.json --plot /tmp/envs.png     # a quick look
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import jax
import ml_collections
import numpy as np

from benchmarks import common, scaling, scaling_plots
from ofe_jax.config import defaults

ENV_COUNTS = {"cpu": (1, 4, 16, 64, 256), "accelerator": (1, 4, 16, 64, 256, 1024, 4096)}
# chunk_seconds: target duration of one learning chunk (sets log_every); learn_chunks: timed
# learning chunks; random_seconds: target timed span of the random phase; the guesses size the
# first row's chunks (later rows use the rates measured in the row before).
PLATFORM = common.KindDefaults(
    {"cpu": {"chunk_seconds": 2.0, "learn_chunks": 3, "random_seconds": 1.5,
             "updates_per_s_guess": 120.0},
     "accelerator": {"chunk_seconds": 2.0, "learn_chunks": 3, "random_seconds": 2.0,
                     "updates_per_s_guess": 1000.0}}, scaling.PLATFORM_LABELS)
RANDOM_STEPS_PER_S_GUESS = 1000.0
MAX_RANDOM_CHUNKS = 200
EPISODE_KEYS = ("episode_return", "episode_length", "episodes", "nonfinite_step",
                "params_finite")

METHOD = (
    "One Trainer per row, ofe_jax.config.defaults (= configs/default.py) with env.num_envs = N, "
    "log_every = N x iterations (iterations chosen from the updates/s measured in the row "
    "before, so one learning chunk takes about chunk_seconds), and random_steps = log_every x "
    "(1 + random_chunks): the first chunk (its programs compiled on first use; compile time "
    "and that run excluded) and random_chunks timed chunks are random phase "
    "(uniform actions, env step + replay add, no updates), the next learn_chunks timed chunks "
    "are all learning (policy actions, env step, replay add, N x updates_per_step SAC updates "
    "per iteration). Each phase runs its own compiled program (Trainer.run_chunk: the calls of "
    "one log interval), as in a real run. env_steps_per_s = timed env steps / timed seconds of the phase; "
    "updates_per_s = learning env_steps_per_s x updates_per_step. In the learning chunks the "
    "replay holds only the random-phase transitions plus those added since (not 1M): sampling "
    "gathers from a small, cache-warm region.")


def envs_config(num_envs: int, iterations: int, random_chunks: int, learn_chunks: int,
                backend: str, updates_per_step: float,
                data_devices: int = 1) -> ml_collections.ConfigDict:
    """The default config with num_envs envs, chunks of `iterations` iterations, and the random
    phase ending exactly after 1 (warm-up) + random_chunks chunks."""
    c = defaults.get_config()
    c.env.num_envs = num_envs
    c.env.backend = backend
    c.updates_per_step = updates_per_step
    c.parallel.data_devices = data_devices
    c.log_every = num_envs * iterations
    c.random_steps = c.log_every * (1 + random_chunks)
    c.total_steps = c.log_every * (1 + random_chunks + learn_chunks)
    return c


def chunk_plan(num_envs: int, updates_per_step: float, updates_per_s: float,
               random_steps_per_s: float, chunk_seconds: float,
               random_seconds: float) -> tuple[int, int]:
    """(iterations per chunk, random-phase chunks) from rate guesses."""
    k = max(1, round(num_envs * updates_per_step))
    iterations = max(1, round(chunk_seconds * updates_per_s / k))
    steps = num_envs * iterations
    random_chunks = min(MAX_RANDOM_CHUNKS,
                        max(3, math.ceil(random_seconds * random_steps_per_s / steps)))
    return iterations, random_chunks


def timed_chunks(run, carry, chunks: int, steps: int):
    """Runs `chunks` chunks; returns (carry, the phase's figures)."""
    times, load, cpu0 = [], os.getloadavg()[0], common.own_cpu_s()
    for _ in range(chunks):
        t = time.perf_counter()
        carry, metrics = jax.block_until_ready(run(carry))
        times.append(time.perf_counter() - t)
    wall, cpu_s = sum(times), common.own_cpu_s() - cpu0
    agent_metrics = [np.asarray(v) for k, v in metrics.items() if k not in EPISODE_KEYS]
    return carry, {
        "chunks": chunks, "env_steps": chunks * steps, "seconds": wall,
        "env_steps_per_s": chunks * steps / wall,
        "median_chunk_env_steps_per_s": steps / statistics.median(times),
        "chunk_s": [round(x, 4) for x in times],
        # Agent losses are NaN in a chunk without updates: False in the random phase and True
        # in the learning phase show that each phase ran what it should.
        "updates_ran_in_last_chunk": bool(agent_metrics) and all(
            bool(np.all(np.isfinite(m))) for m in agent_metrics),
        "load_1min": round(load, 2),
        "cpu_share": cpu_s / wall / common.usable_cores() if wall > 0 else None,
    }


def measure_training(config: ml_collections.ConfigDict, random_chunks: int,
                     learn_chunks: int) -> dict:
    """Trainer(config): init, compile run_chunk, one warm-up chunk (random phase), then
    `random_chunks` timed random-phase chunks and `learn_chunks` timed learning chunks."""
    from ofe_jax.training import Trainer

    start = time.perf_counter()
    trainer = Trainer(config)
    carry = jax.block_until_ready(trainer.init(trainer.seed_keys()))
    init_s = time.perf_counter() - start
    run = trainer.run_chunk  # the host loop's calls of one log interval (compiled on first use)
    t = time.perf_counter()
    carry, _ = jax.block_until_ready(run(carry))
    compile_s = trainer.compile_s
    warmup_s = time.perf_counter() - t - compile_s
    plan = trainer.plan
    out = {"backend": trainer.env.backend, "iterations_per_chunk": plan.iterations_per_chunk,
           "steps_per_chunk": plan.steps_per_chunk,
           "updates_per_iteration": plan.updates_per_iteration,
           "log_every": config.log_every, "random_steps": config.random_steps,
           "init_s": init_s, "compile_s": compile_s, "warmup_chunk_s": warmup_s}
    carry, out["random"] = timed_chunks(run, carry, random_chunks, plan.steps_per_chunk)
    carry, out["learning"] = timed_chunks(run, carry, learn_chunks, plan.steps_per_chunk)
    out["final_step"] = int(carry.step)
    del carry, run, trainer
    return out


def measure_row(num_envs: int, args, plan: tuple, data_devices: int = 1) -> dict:
    iterations, random_chunks = plan
    row = {"num_envs": num_envs, "data_devices": data_devices,
           "updates_per_step": args.updates_per_step}
    try:
        config = envs_config(num_envs, iterations, random_chunks, args.learn_chunks,
                             args.backend, args.updates_per_step, data_devices)
        result = measure_training(config, random_chunks, args.learn_chunks)
    except Exception as error:  # noqa: BLE001 -- one bad row (memory, backend) must not lose the others
        row["status"] = f"error: {type(error).__name__}: {error}"[:500]
        return row
    learning = result["learning"]
    row.update({"status": "measured",
                "random_env_steps_per_s": result["random"]["env_steps_per_s"],
                "learning_env_steps_per_s": learning["env_steps_per_s"],
                # As asked: env-steps/s x updates_per_step; and the updates actually run
                # (num_envs x updates_per_step per iteration).
                "updates_per_s": learning["env_steps_per_s"] * args.updates_per_step,
                "actual_updates_per_s": (learning["env_steps_per_s"] / num_envs
                                         * result["updates_per_iteration"]),
                **result})
    return row


def row_line(row: dict) -> str:
    head = f"num_envs {row['num_envs']:5d} data_devices {row['data_devices']}: "
    if row["status"] != "measured":
        return head + row["status"]
    return (head + f"random {row['random_env_steps_per_s']:10.1f} steps/s  learning "
            f"{row['learning_env_steps_per_s']:8.1f} steps/s {row['updates_per_s']:8.1f} upd/s"
            f"  (chunk {row['steps_per_chunk']} steps, compile {row['compile_s']:.1f} s, "
            f"learning chunks {row['learning']['chunk_s']} s, load "
            f"{row['learning']['load_1min']}, backend {row['backend']})")


def data_devices_sweep(args, base, data_envs: int, guesses: tuple) -> list[dict]:
    """Rows of num_envs = data_envs on d = 1 .. device_count data devices."""
    sweep = []
    for d in range(1, jax.device_count() + 1):
        if data_envs % d or base.agent.batch_size % d or base.replay.capacity % d:
            sweep.append({"num_envs": data_envs, "data_devices": d,
                          "status": f"skipped: {d} does not divide num_envs {data_envs}, "
                                    f"batch {base.agent.batch_size} or capacity "
                                    f"{base.replay.capacity}"})
        else:
            plan = chunk_plan(data_envs, args.updates_per_step, *guesses, args.chunk_seconds,
                              args.random_seconds)
            sweep.append(measure_row(data_envs, args, plan, data_devices=d))
        print(row_line(sweep[-1]), flush=True)
    return sweep


def table(results: dict) -> str:
    rows = results["rows"] + results["data_devices"].get("rows", [])

    def line(r):
        ok = r["status"] == "measured"
        return (str(r["num_envs"]), str(r["data_devices"]),
                f"{r['random_env_steps_per_s']:,.0f}" if ok else "-",
                f"{r['learning_env_steps_per_s']:,.1f}" if ok else "-",
                f"{r['updates_per_s']:,.1f}" if ok else "-",
                str(r["steps_per_chunk"]) if ok else "-",
                f"{statistics.median(r['learning']['chunk_s']):.2f}" if ok else "-",
                f"{r['compile_s']:.1f}" if ok else "-",
                f"{r['learning']['load_1min']:.2f}" if ok else "-", r["status"][:60])

    out = common.format_table(("num_envs", "data_dev", "random steps/s", "learning steps/s",
                               "updates/s", "steps/chunk", "learn chunk s", "compile s", "load",
                               "status"), [line(r) for r in rows], left=(9,))
    if results["data_devices"]["status"] == "single device":
        out += "\ndata_devices sweep: single device, skipped"
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = scaling.part_parser(__doc__)
    parser.add_argument("--num-envs", nargs="*", type=int,
                        help=f"env.num_envs values (default {list(ENV_COUNTS['cpu'])} on CPU, "
                             f"{list(ENV_COUNTS['accelerator'])} on accelerators)")
    parser.add_argument("--backend", default="auto", choices=("auto", "mjx", "mujoco", "warp"),
                        help="env.backend (default auto: mjx on GPU/TPU, C MuJoCo on CPU)")
    parser.add_argument("--updates-per-step", type=float, default=1.0,
                        help="updates_per_step (default 1.0)")
    parser.add_argument("--data-envs", type=int, default=None,
                        help="num_envs of the data_devices sweep (only with > 1 device; "
                             "default: the largest --num-envs)")
    for flag, kind, what in (
            ("--chunk-seconds", float, "target duration of one learning chunk"),
            ("--learn-chunks", int, "timed learning chunks per row"),
            ("--random-seconds", float, "target timed span of the random phase per row"),
            ("--updates-per-s-guess", float, "updates/s guess sizing the first row's chunks "
                                             "(later rows use the measured rate)")):
        PLATFORM.add(parser, flag, kind, what)
    return PLATFORM.resolve(parser.parse_args(argv), scaling.platform_kind())


def main(argv: list[str] | None = None) -> dict:
    argv = common.default_argv(argv)
    args = parse_args(argv)
    counts = args.num_envs or list(ENV_COUNTS[scaling.platform_kind()])
    base = defaults.get_config()
    a = base.agent
    run = common.Run("scaling_envs", argv, {
        "what": "full training-loop throughput (Trainer.run_chunk) vs env.num_envs",
        "config": {"file": "configs/default.py", "env": base.env.name, "agent": a.name,
                   "network": f"{a.network.kind} {a.network.units}x{a.network.layers}",
                   "ofenet": bool(a.ofenet.enabled), "batch_size": a.batch_size,
                   "replay_capacity": base.replay.capacity,
                   "prioritized": bool(base.replay.prioritized), "seeds": base.seeds,
                   "backend_requested": args.backend,
                   "updates_per_step": args.updates_per_step},
        "num_envs": list(counts), "chunk_seconds": args.chunk_seconds,
        "learn_chunks": args.learn_chunks, "random_seconds": args.random_seconds})
    print(run.banner(f"num_envs {counts}, backend {args.backend}, updates_per_step "
                     f"{args.updates_per_step}"), flush=True)
    guesses = (args.updates_per_s_guess, RANDOM_STEPS_PER_S_GUESS)
    rows = []
    for n in counts:
        plan = chunk_plan(n, args.updates_per_step, *guesses, args.chunk_seconds,
                          args.random_seconds)
        rows.append(measure_row(n, args, plan))
        if rows[-1]["status"] == "measured":
            guesses = (rows[-1]["actual_updates_per_s"], rows[-1]["random_env_steps_per_s"])
        print(row_line(rows[-1]), flush=True)
    if jax.device_count() <= 1:
        sweep = {"status": "single device", "device_count": 1,
                 "note": "jax.device_count() == 1: env-steps/s vs parallel.data_devices not run."}
    else:
        data_envs = args.data_envs or max(counts)
        sweep = {"status": "measured", "device_count": jax.device_count(),
                 "num_envs": data_envs,
                 "rows": data_devices_sweep(args, base, data_envs, guesses)}
    record = run.finish({"rows": rows, "data_devices": sweep}, METHOD, args.note)
    print(table(record["results"]))
    scaling.write_part(args, "envs", record, scaling_plots.plot_envs)
    return record


if __name__ == "__main__":
    main()
