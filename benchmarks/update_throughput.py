"""Gradient-update throughput of SAC and TD3: updates/s for each network size, 1 and 8 seeds.

Humanoid-v5 sizes (obs 348, action 17), batch 256. Each measurement calls
``jax.jit(agent.update_many, donate_argnums=0)`` (or ``jax.jit(jax.vmap(agent.update_many),
donate_argnums=0)`` for several seeds) on K pre-generated on-device batches of random data,
reused across calls: the update is measured, not the sampling. K is chosen so that one call
lasts about ``--call-seconds``; compilation (reported as compile_s) and one warm-up call are
excluded; calls repeat until ``--seconds`` of calls (at least ``--min-calls``) and
updates/s = K / median call time (per seed; total = seeds x that). FLOPs per update: the
analytic matmul count of ``benchmarks.flops.flops_per_update``.

    python -m benchmarks.update_throughput --out benchmarks/results/update_throughput_cpu.json
    python -m benchmarks.update_throughput --quick --out /tmp/x.json     # smoke check, < 2 min CPU
"""

from __future__ import annotations

import argparse
import time

import jax
import ml_collections
import numpy as np

from benchmarks import common
from benchmarks.flops import flops_per_update
from ofe_jax import agents

OBS_SIZE = 348  # Humanoid-v5
ACTION_SIZE = 17
BATCH = 256
OFENET_UNITS = 240  # OFENet paper, Humanoid
OFENET_LAYERS = 8

# name -> (torso kind, units, ofenet enabled)
NETWORKS = {
    "mlp256x2": ("mlp", 256, False),
    "dense2048x2": ("dense", 2048, False),
    "dense2048x2+ofenet": ("dense", 2048, True),
}
ALGOS = ("sac", "td3")
SEEDS = (1, 8)
# --quick: both algorithms on the small net, 1 and 8 seeds; SAC on the biggest net, 1 seed.
QUICK_CELLS = [(a, "mlp256x2", s) for a in ALGOS for s in SEEDS] + [
    ("sac", "dense2048x2+ofenet", 1)]

# First guess of sustained useful FLOP/s per platform, only to pick the first K (then measured).
GUESS_FLOPS_PER_S = {"cpu": 4e10}
GUESS_FLOPS_PER_S_ACCELERATOR = 3e13
MAX_K = 5000
MAX_BATCH_BYTES = 2 * 2**30  # cap on the pre-generated batches (all seeds together)

METHOD = ("jit(update_many, donate state) [vmap over seeds]; K random batches on device, "
          "reused across calls; compile and one warm-up call excluded; updates_per_s = K / "
          "median call time, per seed; total = seeds x that; flops_per_update: analytic matmul "
          "FLOPs of one seed's update (benchmarks/flops.py; TD3: actor step counted "
          "1/policy_delay).")

# ----------------------------------------------------------------------------------------------
# Configs and sizes


def agent_config(algo: str, kind: str, units: int, ofenet: bool,
                 compute_dtype: str = "float32") -> ml_collections.ConfigDict:
    """The agent's default config with a 2-layer `kind` torso of `units`, batch 256, OFENet
    (8 blocks, 240 units: Humanoid) on or off, and matmuls in `compute_dtype`."""
    config = agents.default_config(algo)
    config.compute_dtype = compute_dtype
    config.batch_size = BATCH
    config.network.kind = kind
    config.network.units = units
    config.network.layers = 2
    config.ofenet.enabled = ofenet
    config.ofenet.total_units = OFENET_UNITS
    config.ofenet.layers = OFENET_LAYERS
    return config


def count(tree) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def param_counts(agent) -> dict:
    """Trainable parameters of one seed (no targets, optimiser state or BatchNorm stats)."""
    state = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    out = {"actor": count(state.actor_params), "critic": count(state.critic_params),
           "ofenet": count(state.ofenet.params) if state.ofenet is not None else 0}
    out["total"] = sum(out.values())
    return out


def batch_bytes_per_update() -> int:
    return BATCH * (2 * OBS_SIZE + ACTION_SIZE + 2) * 4


def clamp_k(k: int, seeds: int) -> int:
    max_k = min(MAX_K, MAX_BATCH_BYTES // (batch_bytes_per_update() * seeds))
    return int(max(1, min(max_k, k)))


def guess_flops_per_s(platform_name: str) -> float:
    return GUESS_FLOPS_PER_S.get(platform_name, GUESS_FLOPS_PER_S_ACCELERATOR)


# ----------------------------------------------------------------------------------------------
# Measurement


def random_batches(key: jax.Array, lead: tuple, gamma: float) -> agents.Transition:
    """Random transitions of Humanoid-v5 shapes with leading axes `lead` + (BATCH,)."""
    k = jax.random.split(key, 5)
    shape = lead + (BATCH,)
    return agents.make_transition(
        obs=jax.random.normal(k[0], shape + (OBS_SIZE,)),
        action=jax.random.uniform(k[1], shape + (ACTION_SIZE,), minval=-1.0, maxval=1.0),
        reward=jax.random.normal(k[2], shape),
        terminated=jax.random.bernoulli(k[3], 0.01, shape),
        next_obs=jax.random.normal(k[4], shape + (OBS_SIZE,)),
        gamma=gamma)


class Runner:
    """The compiled K-update call of one agent on `state` and `batches` (leading [seeds] axes
    when seeds > 1, then [K]); compiled and warmed up on construction."""

    def __init__(self, agent, state, batches, seeds: int):
        self.seeds, self.state, self.batches = seeds, state, batches
        self.k = jax.tree.leaves(batches)[0].shape[1 if seeds > 1 else 0]
        update = agent.update_many if seeds == 1 else jax.vmap(agent.update_many)
        jax.block_until_ready((self.state, self.batches))
        start = time.perf_counter()
        self.compiled = jax.jit(update, donate_argnums=0).lower(state, batches).compile()
        self.compile_s = time.perf_counter() - start
        self.warmup_s = self.call()  # first execution: allocation, autotuning, caches

    def call(self) -> float:
        start = time.perf_counter()
        self.state, self.metrics = self.compiled(self.state, self.batches)
        jax.block_until_ready((self.state, self.metrics))
        return time.perf_counter() - start

    def finite_losses(self) -> bool:
        """Whether the last call's losses (means over its K updates) are all finite."""
        losses = [v for name, v in self.metrics.items() if name.endswith("loss")]
        return bool(all(np.isfinite(np.asarray(v)).all() for v in losses))


def fresh_runner(agent, seeds: int, k: int) -> Runner:
    """A Runner on freshly initialised states (one per seed) and jax-generated batches."""
    init_key, batch_key = jax.random.split(jax.random.PRNGKey(0))
    if seeds == 1:
        state, lead = jax.jit(agent.init)(init_key), (k,)
    else:
        state = jax.jit(jax.vmap(agent.init))(jax.random.split(init_key, seeds))
        lead = (seeds, k)
    gamma = agent.config.gamma
    batches = jax.jit(lambda key: random_batches(key, lead, gamma))(batch_key)
    return Runner(agent, state, batches, seeds)


def measure(algo: str, network: str, seeds: int, seconds: float, call_seconds: float,
            min_calls: int, fixed_k: int | None = None, compute_dtype: str = "float32") -> dict:
    config = agent_config(algo, *NETWORKS[network], compute_dtype)
    agent = agents.make(config, OBS_SIZE, ACTION_SIZE)
    flops = flops_per_update(config, OBS_SIZE, ACTION_SIZE)
    rate = guess_flops_per_s(jax.devices()[0].platform)
    k = clamp_k(fixed_k if fixed_k else round(call_seconds * rate / (flops * seeds)), seeds)
    compiles = []
    # Calibrate K from the first steady-state call; recompile at most twice.
    for attempt in range(3):
        runner = None  # free the last try's state and batches first
        runner = fresh_runner(agent, seeds, k)
        compiles.append({"k": k, "compile_s": runner.compile_s, "warmup_s": runner.warmup_s})
        first = runner.call()
        new_k = k if fixed_k else clamp_k(round(k * call_seconds / first), seeds)
        if attempt == 2 or 0.5 <= new_k / k <= 2.0:
            break
        compiles[-1]["first_call_s"] = first
        k = new_k
    times = common.time_calls(runner.call, seconds, min_calls, times=[first])
    stats = common.call_stats(times)
    per_seed = k / stats["median_call_s"]
    params = param_counts(agent)
    row = {
        "algo": algo, "network": network, "ofenet": NETWORKS[network][2], "seeds": seeds,
        "compute_dtype": compute_dtype,
        "batch": BATCH, "updates_per_s": per_seed, "total_updates_per_s": seeds * per_seed,
        "compile_s": runner.compile_s, "warmup_call_s": runner.warmup_s,
        "params": params["total"], "params_detail": params, "flops_per_update": flops,
        "useful_gflop_per_s": flops * seeds * per_seed / 1e9, "updates_per_call": k,
        **stats, "calibration": compiles[:-1], "finite_losses": runner.finite_losses(),
    }
    if algo == "td3" and seeds > 1:
        row["note"] = ("under vmap the delayed actor step's lax.cond (predicate on the batched "
                       "state.step) becomes a select: the actor step runs on every update; "
                       "matmul FLOPs as run: "
                       f"{flops_per_update(config, OBS_SIZE, ACTION_SIZE, 1.0):.4g} per update")
    return row


# ----------------------------------------------------------------------------------------------
# Report and command line


def table(rows: list) -> str:
    return common.format_table(
        ("algo", "network", "seeds", "K", "upd/s/seed", "total upd/s", "ms/upd/seed",
         "compile s", "params", "GFLOP/upd", "GFLOP/s"),
        [(r["algo"], r["network"], str(r["seeds"]), str(r["updates_per_call"]),
          f"{r['updates_per_s']:,.1f}", f"{r['total_updates_per_s']:,.1f}",
          f"{1e3 / r['updates_per_s']:,.2f}", f"{r['compile_s']:.1f}", f"{r['params']:,}",
          f"{r['flops_per_update'] / 1e9:.2f}", f"{r['useful_gflop_per_s']:,.1f}")
         for r in rows], left=(0, 1))


TIMING = common.KindDefaults({"full": {"seconds": 10.0, "call_seconds": 1.0, "min_calls": 3},
                              "quick": {"seconds": 1.0, "call_seconds": 0.3, "min_calls": 2}},
                             {"full": "", "quick": "with --quick"})


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = common.argument_parser(
        __doc__, "benchmarks/results/update_throughput.json",
        quick="smoke check: fewer cells and seconds (whole CPU run < 2 min)")
    for flag, kind, what in (("--seconds", float, "timed span per cell"),
                             ("--call-seconds", float, "target duration of one call, sets K"),
                             ("--min-calls", int, "timed calls per cell at least")):
        TIMING.add(parser, flag, kind, what)
    parser.add_argument("--k", type=int, default=None, help="fix K (updates per call)")
    parser.add_argument("--algos", nargs="*", choices=ALGOS)
    parser.add_argument("--networks", nargs="*", choices=list(NETWORKS))
    parser.add_argument("--seeds", nargs="*", type=int)
    args = parser.parse_args(argv)
    return TIMING.resolve(args, "quick" if args.quick else "full")


def main(argv: list[str] | None = None) -> dict:
    argv = common.default_argv(argv)
    args = parse_args(argv)
    if args.algos or args.networks or args.seeds or not args.quick:
        cells = [(a, n, s) for a in (args.algos or ALGOS) for n in (args.networks or NETWORKS)
                 for s in (args.seeds or SEEDS)]
    else:
        cells = QUICK_CELLS
    run = common.Run("update_throughput", argv, {
        "quick": args.quick, "cells": [list(c) for c in cells],
        "seconds_per_cell": args.seconds, "target_call_s": args.call_seconds,
        "min_calls": args.min_calls, "fixed_k": args.k,
        "sizes": {"obs": OBS_SIZE, "action": ACTION_SIZE, "batch": BATCH,
                  "ofenet_total_units": OFENET_UNITS, "ofenet_layers": OFENET_LAYERS,
                  "ofenet_target_dim": OBS_SIZE}})
    print(run.banner(f"{len(cells)} cells, {args.seconds:g} s each"), flush=True)
    rows = []
    for algo, network, seeds in cells:
        row = measure(algo, network, seeds, args.seconds, args.call_seconds, args.min_calls,
                      args.k)
        rows.append(row)
        print(f"{algo:4s} {network:19s} seeds={seeds}: {row['updates_per_s']:10.1f} upd/s/seed"
              f" {row['total_updates_per_s']:10.1f} total  (K={row['updates_per_call']}, "
              f"{row['calls']} calls, median {row['median_call_s']:.3f} s, compile "
              f"{row['compile_s']:.1f} s)", flush=True)
    record = run.finish({"rows": rows}, METHOD, args.note)
    print(table(rows))
    common.write_json(args.out, record)
    print(f"# wrote {args.out} ({record['load']['wall_s']:.0f} s)")
    return record


if __name__ == "__main__":
    main()
