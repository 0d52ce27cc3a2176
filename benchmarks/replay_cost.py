"""Cost of prioritised replay: one proportional-PER sample (batch 256) + priority update against
one uniform sample (batch 256), per jitted call and inside a lax.scan, at several capacities
(part "per" of scaling.json).

    python -m benchmarks.replay_cost --out benchmarks/results/scaling_cpu.json
    python -m benchmarks.replay_cost --capacities 10000 --per-seconds 0.3 --scan-ops 10 \\
        --out /tmp/scaling.json                                               # a quick look
"""

from __future__ import annotations

import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common, scaling
from ofe_jax import agents, replay
from ofe_jax.replay import prioritized

BATCH = 256
PER_CAPACITIES = (1_000_000, 100_000)
PER_OBS, PER_ACTION = 17, 6  # HalfCheetah-v5
PER_ALPHA, PER_EPS, PER_BETA = 0.6, 1e-6, 0.4
FILL_CHUNK = 100_000

METHOD = (
    "Buffers filled to capacity with random transitions by their own add (jitted, donated, "
    f"{FILL_CHUNK} at a time); the prioritised one then gets priorities (|N(0,1)| + eps)^alpha "
    "on every slot via prioritized.update. per_call: one op per jitted call (PER: state "
    "donated, the tree updated in place), block_until_ready, 3 warm-up calls, then calls for "
    "seconds_per_measurement (>= 200); median in microseconds, including dispatch. in_scan: "
    "scan_ops ops in one jitted lax.scan (as in the trainer), each batch summed into the carry "
    "so nothing is dead code (the sum, ~10k adds, is in both); median call time / scan_ops. "
    "PER sample+update = prioritized.sample (stratified descent of the sum tree, O(B log L), "
    "plus one O(capacity) min over the leaves for the max-weight normalisation) and "
    "prioritized.update (O(B log L)) with td_abs = |reward| x weight. ratio = PER "
    "sample+update / uniform sample.")


def filled_buffers(capacity: int, rng: np.random.Generator):
    """A full uniform buffer and a full prioritised buffer of `capacity` random transitions
    (filled with their own `add`, jitted and donated, FILL_CHUNK at a time), the prioritised
    one then given random priorities (|N(0, 1)| TD errors) through its own `update`."""
    example = agents.Transition(jnp.zeros((PER_OBS,)), jnp.zeros((PER_ACTION,)), jnp.zeros(()),
                                jnp.zeros(()), jnp.zeros((PER_OBS,)))
    uniform = replay.init(capacity, example)
    per = prioritized.init(capacity, example)
    add_u = jax.jit(replay.add, donate_argnums=0)
    add_p = jax.jit(prioritized.add, donate_argnums=0)
    set_p = jax.jit(prioritized.update, donate_argnums=0)
    chunk = min(capacity, FILL_CHUNK)
    for start in range(0, capacity, chunk):
        items = jax.device_put(agents.Transition(
            rng.standard_normal((chunk, PER_OBS), dtype=np.float32),
            rng.uniform(-1, 1, (chunk, PER_ACTION)).astype(np.float32),
            rng.standard_normal((chunk,), dtype=np.float32),
            np.full((chunk,), 0.99, np.float32),
            rng.standard_normal((chunk, PER_OBS), dtype=np.float32)))
        uniform = add_u(uniform, items)
        per = add_p(per, items)
        index = (jnp.arange(chunk, dtype=jnp.int32) + start) % capacity
        per = set_p(per, index, jnp.asarray(np.abs(rng.standard_normal(chunk)), jnp.float32),
                    PER_ALPHA, PER_EPS)
    jax.block_until_ready((uniform, per))
    assert int(uniform.size) == capacity and int(per.size) == capacity
    return uniform, per


def _batch_sum(batch) -> jax.Array:
    return sum(jnp.sum(x) for x in jax.tree.leaves(batch))


def ops(scan_ops: int) -> dict:
    """The measured functions. Per call: one op per jitted call (dispatch included). In scan:
    `scan_ops` ops in one lax.scan (the trainer's setting), each op's batch summed into the
    carry so that nothing is dead code; per-op time = call time / scan_ops."""
    def per_step(state, key):
        s = prioritized.sample(state, key, BATCH, PER_BETA)
        td_abs = jnp.abs(s.batch.reward) * s.weight  # depends on the sampled items
        return prioritized.update(state, s.info, td_abs, PER_ALPHA, PER_EPS), s

    def uniform_scan(state, keys):
        return jax.lax.scan(lambda acc, k: (acc + _batch_sum(replay.sample(state, k, BATCH)
                                                             .batch), None),
                            jnp.zeros(()), keys)[0]

    def per_scan(state, keys):
        def body(carry, k):
            state, acc = carry
            state, s = per_step(state, k)
            return (state, acc + _batch_sum(s.batch) + jnp.sum(s.weight)), None
        return jax.lax.scan(body, (state, jnp.zeros(())), keys)[0]

    def per_sample_scan(state, keys):
        def body(acc, k):
            s = prioritized.sample(state, k, BATCH, PER_BETA)
            return acc + _batch_sum(s.batch) + jnp.sum(s.weight), None
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


def measure_op(op: dict, state, key, keys, seconds: float, scan_ops: int):
    """(timings, the state after them) of one op of `ops`; a donated op's state is threaded
    through its calls."""
    result, holder = {}, [state]
    for mode, arg, min_calls, donate in (("call", key, 200, op["donate"]),
                                         ("scan", keys, 5, op["scan_donate"])):
        t = time.perf_counter()
        compiled = op[mode].lower(holder[0], arg).compile()
        result["compile_s" if mode == "call" else "scan_compile_s"] = time.perf_counter() - t

        def call(compiled=compiled, arg=arg, donate=donate, mode=mode):
            out = compiled(holder[0], arg)
            if donate and mode == "scan":
                holder[0], out = out
            elif donate:
                holder[0] = out
            return jax.block_until_ready(out)

        times = common.time_calls(call, seconds, min_calls, warmup=3)
        if mode == "call":
            result["per_call_us"] = 1e6 * statistics.median(times)
            result["per_call_calls"] = len(times)
            result["per_call_min_us"] = 1e6 * min(times)
        else:
            result["in_scan_us"] = 1e6 * statistics.median(times) / scan_ops
            result["in_scan_calls"] = len(times)
    return result, holder[0]


def measure_capacity(capacity: int, rng: np.random.Generator, seconds: float,
                     scan_ops: int) -> dict:
    t = time.perf_counter()
    uniform, per = filled_buffers(capacity, rng)
    row = {"capacity": capacity, "fill_s": time.perf_counter() - t,
           "load_1min": round(os.getloadavg()[0], 2)}
    keys = jax.random.split(jax.random.PRNGKey(1), scan_ops)
    key = jax.random.PRNGKey(2)
    for name, op in ops(scan_ops).items():
        is_per = name.startswith("per")
        result, state = measure_op(op, per if is_per else uniform, key, keys, seconds, scan_ops)
        if is_per:
            per = state  # the donated ops return the (updated) prioritised state
        row[name] = result
        print(f"capacity {capacity:8d} {name:22s}: per call {result['per_call_us']:9.1f} us"
              f"  in scan {result['in_scan_us']:9.1f} us  (load {os.getloadavg()[0]:.2f})",
              flush=True)
    u, p = row["uniform_sample"], row["per_sample_and_update"]
    row["ratio_per_call"] = p["per_call_us"] / u["per_call_us"]
    row["ratio_in_scan"] = p["in_scan_us"] / u["in_scan_us"]
    row["tree_bytes"] = int(per.tree.size * per.tree.dtype.itemsize)
    row["buffer_bytes"] = int(sum(x.size * x.dtype.itemsize
                                  for x in jax.tree.leaves(uniform.data)))
    return row


def table(rows: list[dict]) -> str:
    return common.format_table(
        ("capacity", "mode", "uniform us", "PER smp+upd us", "PER smp only us", "ratio"),
        [(f"{r['capacity']:,}", mode, f"{r['uniform_sample'][key]:.1f}",
          f"{r['per_sample_and_update'][key]:.1f}", f"{r['per_sample_only'][key]:.1f}",
          f"{r['ratio_' + key.removesuffix('_us')]:.1f}x")
         for r in rows for mode, key in (("per call", "per_call_us"),
                                         ("in scan", "in_scan_us"))])


def main(argv: list[str] | None = None) -> dict:
    argv = common.default_argv(argv)
    parser = scaling.part_parser(__doc__)
    parser.add_argument("--capacities", nargs="*", type=int,
                        help=f"replay capacities (default {list(PER_CAPACITIES)})")
    parser.add_argument("--per-seconds", type=float, default=2.0,
                        help="timed span of each measurement (default 2)")
    parser.add_argument("--scan-ops", type=int, default=100,
                        help="ops per jitted lax.scan call for the in-scan figures (default 100)")
    args = parser.parse_args(argv)
    capacities = args.capacities or list(PER_CAPACITIES)
    run = common.Run("replay_cost", argv, {
        "what": ("one proportional-PER sample (batch 256) + priority update vs one uniform "
                 "replay.sample (batch 256)"),
        "sizes": {"obs": PER_OBS, "action": PER_ACTION, "batch": BATCH,
                  "note": "HalfCheetah-v5 sizes; float32 storage, 168 bytes per transition"},
        "alpha": PER_ALPHA, "eps": PER_EPS, "beta": PER_BETA, "capacities": capacities,
        "seconds_per_measurement": args.per_seconds, "scan_ops": args.scan_ops})
    print(run.banner(f"capacities {capacities}, batch {BATCH}"), flush=True)
    rng = np.random.default_rng(0)
    rows = [measure_capacity(c, rng, args.per_seconds, args.scan_ops) for c in capacities]
    record = run.finish({"rows": rows}, METHOD, args.note)
    print(table(rows))
    scaling.write_part(args, "per", record)
    return record


if __name__ == "__main__":
    main()
