"""Gradient-update throughput of SAC and TD3: updates/s for each network size, 1 and 8 seeds.

Humanoid-v5 sizes (obs 348, action 17), batch 256. Each measurement calls
``jax.jit(agent.update_many, donate_argnums=0)`` (or ``jax.jit(jax.vmap(agent.update_many),
donate_argnums=0)`` for several seeds) on K pre-generated on-device batches of random data,
reused across calls: the update is measured, not the sampling. K is chosen so that one call
lasts about ``--call-seconds``; compilation (reported as compile_s) and one warm-up call are
excluded; calls repeat until ``--seconds`` have passed (at least ``--min-calls``) and
updates/s = K / median call time (per seed; total = seeds x that).

    python -m benchmarks.update_throughput --out benchmarks/results/update_throughput_cpu.json
    python -m benchmarks.update_throughput --quick --out /tmp/x.json     # smoke check, < 2 min CPU

FLOPs are analytic: matrix-multiply FLOPs only (2 per multiply-add), forward = 1x, each of the
weight and input gradients = 1x, identical forwards on the same inputs counted once (XLA CSE),
TD3's delayed actor step counted 1/policy_delay of the time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import time

import jax
import ml_collections
import numpy as np

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


# ----------------------------------------------------------------------------------------------
# Configs, parameter counts, analytic FLOPs


def make_config(algo: str, network: str) -> ml_collections.ConfigDict:
    kind, units, ofenet = NETWORKS[network]
    config = agents.default_config(algo)
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
           "ofenet": count(state.ofenet_params) if state.ofenet_params is not None else 0}
    out["total"] = sum(out.values())
    return out


def _torso(kind: str, units: int, layers: int, d_in: int) -> tuple[list, int]:
    if kind == "mlp":
        return [(d_in, units)] + [(units, units)] * (layers - 1), units
    return [(d_in + i * units, units) for i in range(layers)], d_in + layers * units


def _macs(layers: list, skip_first: bool = False) -> int:
    return sum(i * o for i, o in (layers[1:] if skip_first else layers))


def flops_per_update(config, obs_size: int = OBS_SIZE, action_size: int = ACTION_SIZE,
                     delay_fraction: float | None = None) -> int:
    """Analytic matmul FLOPs of one update of one seed (see the module docstring).

    delay_fraction: share of updates that run TD3's delayed actor step (default 1/policy_delay).
    """
    n, o = config.network, config.ofenet
    actor_in, critic_in = obs_size, obs_size + action_size
    ofe_macs = 0.0
    if o.enabled:
        g = o.total_units // o.layers
        phi_o = [(obs_size + i * g, g) for i in range(o.layers)]
        phi_o_out = obs_size + o.layers * g
        phi_oa = [(phi_o_out + action_size + i * g, g) for i in range(o.layers)]
        phi_oa_out = phi_o_out + action_size + o.layers * g
        target = o.target_dim if o.target_dim > 0 else obs_size
        full = phi_o + phi_oa + [(phi_oa_out, target)]
        # Auxiliary step: forward, weight grads, input grads (none for the raw observation).
        ofe_macs += _macs(full) * 2 + _macs(full, skip_first=True)
        actor_in, critic_in = phi_o_out, phi_oa_out
    actor_torso, h_a = _torso(n.kind, n.units, n.layers, actor_in)
    actor = actor_torso + [(h_a, action_size)] * (2 if config.name == "sac" else 1)
    critic_torso, h_c = _torso(n.kind, n.units, n.layers, critic_in)
    critic = (critic_torso + [(h_c, 1)]) * config.num_critics  # C independent nets
    fa, fc = _macs(actor), _macs(critic)
    critic_step = fc * 2 + _macs(critic, skip_first=True)  # fwd, weight grads, inner input grads
    actor_step = fa * 2 + _macs(actor, skip_first=True) + fc * 2  # + critic fwd and input grads
    if config.name == "sac":
        # pi(s') fwd, Q'(s', a') fwd, critic step, actor step (through Q(s, pi(s))).
        macs = fa + fc + critic_step + actor_step
        if o.enabled:  # phi_o(s'), phi_o(s); phi_oa(s', a'), (s, a), (s, pi(s)) + its input grads
            macs += 2 * _macs(phi_o) + 4 * _macs(phi_oa)
    else:
        f = 1.0 / config.policy_delay if delay_fraction is None else delay_fraction
        macs = fa + fc + critic_step + f * actor_step
        if o.enabled:  # as SAC; the delayed branch recomputes phi_o(s) (no CSE across cond)
            macs += (2 + f) * _macs(phi_o) + (2 + 3 * f) * _macs(phi_oa)
    macs += ofe_macs
    return round(2 * config.batch_size * macs)


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


def batch_bytes_per_update() -> int:
    return BATCH * (2 * OBS_SIZE + ACTION_SIZE + 2) * 4


def initial_k(platform_name: str, flops: int, seeds: int, call_seconds: float) -> int:
    rate = GUESS_FLOPS_PER_S.get(platform_name, GUESS_FLOPS_PER_S_ACCELERATOR)
    return clamp_k(round(call_seconds * rate / (flops * seeds)), seeds)


def clamp_k(k: int, seeds: int) -> int:
    max_k = min(MAX_K, MAX_BATCH_BYTES // (batch_bytes_per_update() * seeds))
    return int(max(1, min(max_k, k)))


class Runner:
    """The compiled K-update call of one (agent, seeds, K), its state and its batches."""

    def __init__(self, agent, seeds: int, k: int):
        self.seeds, self.k = seeds, k
        init_key, batch_key = jax.random.split(jax.random.PRNGKey(0))
        if seeds == 1:
            self.state = jax.jit(agent.init)(init_key)
            lead = (k,)
            fn = jax.jit(agent.update_many, donate_argnums=0)
        else:
            self.state = jax.jit(jax.vmap(agent.init))(jax.random.split(init_key, seeds))
            lead = (seeds, k)
            fn = jax.jit(jax.vmap(agent.update_many), donate_argnums=0)
        gamma = agent.config.gamma
        self.batches = jax.jit(lambda key: random_batches(key, lead, gamma))(batch_key)
        jax.block_until_ready((self.state, self.batches))
        start = time.perf_counter()
        self.compiled = fn.lower(self.state, self.batches).compile()
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


def measure(algo: str, network: str, seeds: int, seconds: float, call_seconds: float,
            min_calls: int, fixed_k: int | None = None) -> dict:
    config = make_config(algo, network)
    agent = agents.make(config, OBS_SIZE, ACTION_SIZE)
    flops = flops_per_update(config)
    platform_name = jax.devices()[0].platform
    k = clamp_k(fixed_k, seeds) if fixed_k else initial_k(platform_name, flops, seeds,
                                                         call_seconds)
    compiles = []
    # Calibrate K from the first steady-state call; recompile at most twice.
    for attempt in range(3):
        runner = None  # free the last try's state and batches first
        runner = Runner(agent, seeds, k)
        compiles.append({"k": k, "compile_s": runner.compile_s, "warmup_s": runner.warmup_s})
        first = runner.call()
        new_k = k if fixed_k else clamp_k(round(k * call_seconds / first), seeds)
        if attempt == 2 or 0.5 <= new_k / k <= 2.0:
            break
        compiles[-1]["first_call_s"] = first
        k = new_k
    times, start = [first], time.perf_counter() - first
    while len(times) < min_calls or time.perf_counter() - start < seconds:
        times.append(runner.call())
    median = statistics.median(times)
    per_seed = k / median
    params = param_counts(agent)
    row = {
        "algo": algo, "network": network, "ofenet": NETWORKS[network][2], "seeds": seeds,
        "batch": BATCH, "updates_per_s": per_seed, "total_updates_per_s": seeds * per_seed,
        "compile_s": runner.compile_s, "warmup_call_s": runner.warmup_s,
        "params": params["total"], "params_detail": params,
        "flops_per_update": flops,
        "useful_gflop_per_s": flops * seeds * per_seed / 1e9,
        "updates_per_call": k, "calls": len(times), "median_call_s": median,
        "min_call_s": min(times), "max_call_s": max(times),
        "timed_s": sum(times), "calibration": compiles[:-1],
        "finite_losses": runner.finite_losses(),
    }
    if algo == "td3" and seeds > 1:
        row["note"] = ("under vmap the delayed actor step's lax.cond (predicate on the batched "
                       "state.step) becomes a select: the actor step runs on every update; "
                       "matmul FLOPs as run: "
                       f"{flops_per_update(config, delay_fraction=1.0):.4g} per update")
    return row


# ----------------------------------------------------------------------------------------------
# Report


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header(args, argv) -> dict:
    import flax
    import jaxlib
    import optax

    device = jax.devices()[0]
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "benchmark": "update_throughput",
        "device": device.device_kind, "platform": device.platform,
        "device_count": jax.device_count(),
        "versions": {"jax": jax.__version__, "jaxlib": jaxlib.__version__,
                     "flax": flax.__version__, "optax": optax.__version__,
                     "python": platform.python_version(), "numpy": np.__version__},
        "cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": usable,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.update_throughput " + shlex.join(argv),
        "quick": args.quick, "seconds_per_config": args.seconds,
        "target_call_s": args.call_seconds, "min_calls": args.min_calls,
        "default_matmul_precision": str(jax.config.jax_default_matmul_precision),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "sizes": {"obs": OBS_SIZE, "action": ACTION_SIZE, "batch": BATCH,
                  "ofenet_total_units": OFENET_UNITS, "ofenet_layers": OFENET_LAYERS,
                  "ofenet_target_dim": OBS_SIZE},
        "method": ("jit(update_many, donate state) [vmap over seeds]; K random batches on "
                   "device, reused across calls; compile and one warm-up call excluded; "
                   "updates_per_s = K / median call time, per seed; total = seeds x that; "
                   "flops_per_update: analytic matmul FLOPs of one seed's update "
                   "(TD3: actor step counted 1/policy_delay)."),
    }


def table(rows: list) -> str:
    cols = ("algo", "network", "seeds", "K", "upd/s/seed", "total upd/s", "ms/upd/seed",
            "compile s", "params", "GFLOP/upd", "GFLOP/s")
    lines = [cols]
    for r in rows:
        lines.append((r["algo"], r["network"], str(r["seeds"]), str(r["updates_per_call"]),
                      f"{r['updates_per_s']:,.1f}", f"{r['total_updates_per_s']:,.1f}",
                      f"{1e3 / r['updates_per_s']:,.2f}", f"{r['compile_s']:.1f}",
                      f"{r['params']:,}", f"{r['flops_per_update'] / 1e9:.2f}",
                      f"{r['useful_gflop_per_s']:,.1f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(cols))]
    fmt = lambda line: "  ".join(c.rjust(w) if i > 1 else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(line, widths)))
    out = [fmt(lines[0]), "  ".join("-" * w for w in widths)]
    return "\n".join(out + [fmt(line) for line in lines[1:]])


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/update_throughput.json")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: fewer cells and seconds (whole CPU run < 2 min)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="timed span per cell (default 10; 1 with --quick)")
    parser.add_argument("--call-seconds", type=float, default=None,
                        help="target duration of one call, sets K (default 1; 0.3 with --quick)")
    parser.add_argument("--min-calls", type=int, default=None,
                        help="timed calls per cell at least (default 3; 2 with --quick)")
    parser.add_argument("--k", type=int, default=None, help="fix K (updates per call)")
    parser.add_argument("--algos", nargs="*", choices=ALGOS)
    parser.add_argument("--networks", nargs="*", choices=list(NETWORKS))
    parser.add_argument("--seeds", nargs="*", type=int)
    parser.add_argument("--note", default="", help="free text stored in the JSON")
    args = parser.parse_args(argv)
    args.seconds = args.seconds if args.seconds is not None else (1.0 if args.quick else 10.0)
    args.call_seconds = args.call_seconds or (0.3 if args.quick else 1.0)
    args.min_calls = args.min_calls or (2 if args.quick else 3)

    if args.algos or args.networks or args.seeds or not args.quick:
        cells = [(a, n, s) for a in (args.algos or ALGOS) for n in (args.networks or NETWORKS)
                 for s in (args.seeds or SEEDS)]
    else:
        cells = QUICK_CELLS

    report = header(args, argv)
    load_before = os.getloadavg()
    print(f"# {report['device']} ({report['platform']}), cpu: {report['cpu']} x "
          f"{report['cores']}, jax {jax.__version__}; {len(cells)} cells, "
          f"{args.seconds:g} s each; load average {load_before[0]:.2f}", flush=True)
    start = time.perf_counter()
    rows = []
    for algo, network, seeds in cells:
        row = measure(algo, network, seeds, args.seconds, args.call_seconds, args.min_calls,
                      args.k)
        rows.append(row)
        print(f"{algo:4s} {network:19s} seeds={seeds}: {row['updates_per_s']:10.1f} upd/s/seed"
              f" {row['total_updates_per_s']:10.1f} total  (K={row['updates_per_call']}, "
              f"{row['calls']} calls, median {row['median_call_s']:.3f} s, compile "
              f"{row['compile_s']:.1f} s)", flush=True)
    load_after = os.getloadavg()
    report["wall_s"] = time.perf_counter() - start
    cpu = os.times()
    report["process_cpu_s"] = cpu.user + cpu.system  # whole process, imports and compiles too
    report["load_average_before"] = [round(x, 2) for x in load_before]
    report["load_average_after"] = [round(x, 2) for x in load_after]
    note = (f"1/5/15-min load average {report['load_average_before']} before, "
            f"{report['load_average_after']} after the run on {report['usable_cores']} usable "
            f"cores; this process used {report['process_cpu_s']:.0f} CPU-s in "
            f"{report['wall_s']:.0f} s of wall time. On a CPU shared with other processes "
            "the figures are lower bounds.")
    report["note"] = (args.note + " " + note).strip() if args.note else note
    report["rows"] = rows
    print(table(rows))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"# wrote {args.out} ({report['wall_s']:.0f} s)")
    return report


if __name__ == "__main__":
    main()
