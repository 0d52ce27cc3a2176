"""Cost of prioritised replay: one proportional-PER sample (batch 256) + priority update against
one uniform sample (batch 256), per jitted call and inside a lax.scan, at several capacities
(part "per" of scaling.json).

    python -m benchmarks.replay_cost --out benchmarks/results/scaling_cpu.json
    python -m benchmarks.replay_cost --capacities 10000 --per-seconds 0.3 --scan-ops 10 \\
        --out /tmp/scaling.json                                               # a quick look
    python -m benchmarks.replay_cost --baseline /tmp/old/prioritized.py --rounds 3 \\
        --count-targets cpu h200 --out benchmarks/results/per_vectorised_cpu.json  # before/after

--baseline FILE measures another version of ofe_jax/replay/prioritized.py (e.g. a copy of an
older commit's) in the same run, on buffers filled with the same data, alternating with the
current one round by round; each row then has a "baseline" entry beside the current figures.
--count-targets adds, per implementation, the ops of one jitted call (jaxpr equations; kernels
of the optimised HLO, as ofe_jax.plan counts them) for each target: "cpu", or a GPU target such
as "h200", compiled without a GPU (needs JAX's CUDA plugin and JAX_PLATFORMS=cpu).
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common, scaling
from ofe_jax import agents, replay
from ofe_jax.aot import hlo, targets
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
    "PER sample+update = prioritized.sample (stratified descent of the sum tree, O(B log L); "
    "the max-weight normaliser from the min tree's root, O(1), where the code before issue 24 "
    "took a min over all L leaves) and prioritized.update (O(B log L): both trees' ancestors "
    "recomputed) with td_abs = |reward| x weight. ratio = PER "
    "sample+update / uniform sample. With --baseline, the baseline module's buffer is filled "
    "with the same data and each op is measured --rounds times, current and baseline "
    "alternating (per-round medians in *_rounds_us, their median as the figure). ops: "
    "jaxpr_eqns = primitive equations of the traced call, nested jaxprs inlined (of a "
    "switch's branches the largest), before XLA; kernels = instructions of the "
    "optimised HLO that launch work, as ofe_jax.aot.hlo.count counts them (on a GPU each is "
    "a kernel launch; on a CPU a thunk); bytes = ofe_jax.aot.hlo's model of bytes moved.")


def load_module(path: str):
    """A prioritised-replay module from a file (a copy of another version of
    ofe_jax/replay/prioritized.py), imported under its own name."""
    spec = importlib.util.spec_from_file_location("prioritized_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_item() -> agents.Transition:
    return agents.Transition(jnp.zeros((PER_OBS,)), jnp.zeros((PER_ACTION,)), jnp.zeros(()),
                             jnp.zeros(()), jnp.zeros((PER_OBS,)))


def filled_buffers(capacity: int, rng: np.random.Generator, modules: dict):
    """A full uniform buffer and, per prioritised-replay module of `modules` ({name: module}),
    a full prioritised buffer, of the same `capacity` random transitions (each filled with its
    own `add`, jitted and donated, FILL_CHUNK at a time), the prioritised ones then given the
    same random priorities (|N(0, 1)| TD errors) through their own `update`."""
    example = example_item()
    uniform = replay.init(capacity, example)
    per = {name: module.init(capacity, example) for name, module in modules.items()}
    add_u = jax.jit(replay.add, donate_argnums=0)
    add_p = {name: jax.jit(m.add, donate_argnums=0) for name, m in modules.items()}
    set_p = {name: jax.jit(m.update, donate_argnums=0, static_argnums=(3, 4))
             for name, m in modules.items()}
    chunk = min(capacity, FILL_CHUNK)
    for start in range(0, capacity, chunk):
        items = jax.device_put(agents.Transition(
            rng.standard_normal((chunk, PER_OBS), dtype=np.float32),
            rng.uniform(-1, 1, (chunk, PER_ACTION)).astype(np.float32),
            rng.standard_normal((chunk,), dtype=np.float32),
            np.full((chunk,), 0.99, np.float32),
            rng.standard_normal((chunk, PER_OBS), dtype=np.float32)))
        index = (jnp.arange(chunk, dtype=jnp.int32) + start) % capacity
        td_abs = jnp.asarray(np.abs(rng.standard_normal(chunk)), jnp.float32)
        uniform = add_u(uniform, items)
        for name in modules:
            per[name] = set_p[name](add_p[name](per[name], items), index, td_abs, PER_ALPHA,
                                    PER_EPS)
    jax.block_until_ready((uniform, per))
    assert int(uniform.size) == capacity and all(int(s.size) == capacity for s in per.values())
    return uniform, per


def _batch_sum(batch) -> jax.Array:
    return sum(jnp.sum(x) for x in jax.tree.leaves(batch))


def ops(scan_ops: int, prioritized=prioritized) -> dict:
    """The measured functions (of the prioritised-replay module `prioritized`). Per call: one
    op per jitted call (dispatch included). In scan: `scan_ops` ops in one lax.scan (the
    trainer's setting), each op's batch summed into the carry so that nothing is dead code;
    per-op time = call time / scan_ops."""
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


def measure_op(op: dict, state, key, keys, seconds: float, scan_ops: int, compiled: dict):
    """(timings, the state after them) of one op of `ops`; a donated op's state is threaded
    through its calls. `compiled` caches the executables ({mode: executable}) across rounds."""
    result, holder = {}, [state]
    for mode, arg, min_calls, donate in (("call", key, 200, op["donate"]),
                                         ("scan", keys, 5, op["scan_donate"])):
        if mode not in compiled:
            t = time.perf_counter()
            compiled[mode] = op[mode].lower(holder[0], arg).compile()
            result["compile_s" if mode == "call" else "scan_compile_s"] = time.perf_counter() - t

        def call(executable=compiled[mode], arg=arg, donate=donate, mode=mode):
            out = executable(holder[0], arg)
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


def _merge_rounds(results: list[dict]) -> dict:
    """One op's figures over rounds: medians of the per-round medians, the rounds kept."""
    out = {k: v for k, v in results[0].items() if k.endswith("compile_s")}
    for key in ("per_call_us", "in_scan_us"):
        out[key] = statistics.median(r[key] for r in results)
        out[key.removesuffix("_us") + "_rounds_us"] = [round(r[key], 1) for r in results]
    out["per_call_min_us"] = min(r["per_call_min_us"] for r in results)
    out["per_call_calls"] = sum(r["per_call_calls"] for r in results)
    out["in_scan_calls"] = sum(r["in_scan_calls"] for r in results)
    return out


def _is_jaxpr(value) -> bool:
    return hasattr(value, "eqns") or hasattr(getattr(value, "jaxpr", None), "eqns")


def _primitive_eqns(jaxpr) -> int:
    """Equations of a jaxpr with nested jaxprs inlined (pjit, custom_jvp, a scan's body once;
    of a switch's branches the largest: lax.platform_dependent is one)."""
    total = 0
    for eqn in jaxpr.eqns:
        inner = []
        for value in eqn.params.values():
            group = value if isinstance(value, (tuple, list)) else (value,)
            counts = [_primitive_eqns(getattr(v, "jaxpr", v)) for v in group if _is_jaxpr(v)]
            if counts:
                inner.append(max(counts))
        total += sum(inner) if inner else 1
    return total


def op_counts(fn, args, target_names) -> dict:
    """{target: {jaxpr_eqns, kernels, bytes}} of one call of the jitted `fn` on arguments shaped
    like `args`, compiled for each target ("cpu" or a GPU target, deviceless)."""
    out = {}
    for name in target_names:
        try:
            sharding = targets.load(name).sharding()
            abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype,
                                                                   sharding=sharding), args)
            traced = fn.trace(*abstract)
            counts = hlo.count(traced.lower().compile().as_text())
        except Exception as e:  # noqa: BLE001 - a target that cannot compile here is reported
            out[name] = {"error": " ".join(str(e).split())[:200] or type(e).__name__}
            continue
        out[name] = {"jaxpr_eqns": _primitive_eqns(traced.jaxpr.jaxpr),
                     "kernels": int(counts.kernels), "bytes": int(counts.bytes)}
    return out


def _index_bytes(state) -> int:
    """Bytes of a prioritised buffer beyond its storage (the trees and the max priority)."""
    everything = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state))
    return int(everything - sum(x.size * x.dtype.itemsize
                                for x in jax.tree.leaves(state.storage)))


def measure_capacity(capacity: int, seed: int, seconds: float, scan_ops: int, modules: dict,
                     rounds: int = 1, count_targets=()) -> dict:
    """One row: the uniform sample and, per module of `modules` ({"current": ..., and maybe
    "baseline": ...}), the PER ops, measured `rounds` times with the modules alternating."""
    t = time.perf_counter()
    uniform, per = filled_buffers(capacity, np.random.default_rng(seed), modules)
    row = {"capacity": capacity, "fill_s": time.perf_counter() - t,
           "load_1min": round(os.getloadavg()[0], 2)}
    keys = jax.random.split(jax.random.PRNGKey(1), scan_ops)
    key = jax.random.PRNGKey(2)
    all_ops = {name: ops(scan_ops, module) for name, module in modules.items()}
    cells = [("uniform_sample", "current")] + [(op, name) for op in all_ops["current"]
                                               if op.startswith("per") for name in modules]
    results, compiled = {cell: [] for cell in cells}, {cell: {} for cell in cells}
    for r in range(rounds):
        for op, name in cells if r % 2 == 0 else cells[::-1]:  # alternate who goes first
            is_per = op.startswith("per")
            result, state = measure_op(all_ops[name][op], per[name] if is_per else uniform,
                                       key, keys, seconds, scan_ops, compiled[(op, name)])
            if is_per:
                per[name] = state  # the donated ops return the (updated) prioritised state
            results[(op, name)].append(result)
            print(f"capacity {capacity:8d} round {r} {name:8s} {op:22s}: per call "
                  f"{result['per_call_us']:9.1f} us  in scan {result['in_scan_us']:9.1f} us  "
                  f"(load {os.getloadavg()[0]:.2f})", flush=True)
    row["uniform_sample"] = _merge_rounds(results[("uniform_sample", "current")])
    u = row["uniform_sample"]
    for name in modules:
        entry = row if name == "current" else row.setdefault(name, {})
        for op in all_ops[name]:
            if op.startswith("per"):
                entry[op] = _merge_rounds(results[(op, name)])
        p = entry["per_sample_and_update"]
        entry["ratio_per_call"] = p["per_call_us"] / u["per_call_us"]
        entry["ratio_in_scan"] = p["in_scan_us"] / u["in_scan_us"]
        entry["index_bytes"] = _index_bytes(per[name])
        if count_targets:
            row.setdefault("ops", {})[name] = {
                op: op_counts(all_ops[name][op]["call"], (per[name], key), count_targets)
                for op in all_ops[name] if op.startswith("per")}
    row["tree_bytes"] = int(per["current"].tree.size * per["current"].tree.dtype.itemsize)
    row["buffer_bytes"] = int(sum(x.size * x.dtype.itemsize
                                  for x in jax.tree.leaves(uniform.data)))
    for name in modules:
        if name != "current":
            row[name]["speedup"] = {  # baseline time / current time
                op: {mode: row[name][op][mode + "_us"] / row[op][mode + "_us"]
                     for mode in ("per_call", "in_scan")} for op in all_ops[name]
                if op.startswith("per")}
    return row


def table(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        for name, entry in [("current", r)] + [(k, r[k]) for k in ("baseline",) if k in r]:
            for mode, key in (("per call", "per_call_us"), ("in scan", "in_scan_us")):
                lines.append((f"{r['capacity']:,}", name, mode, f"{r['uniform_sample'][key]:.1f}",
                              f"{entry['per_sample_and_update'][key]:.1f}",
                              f"{entry['per_sample_only'][key]:.1f}",
                              f"{entry['ratio_' + key.removesuffix('_us')]:.1f}x"))
    return common.format_table(("capacity", "PER code", "mode", "uniform us", "PER smp+upd us",
                                "PER smp only us", "ratio"), lines, left=(1,))


def main(argv: list[str] | None = None) -> dict:
    argv = common.default_argv(argv)
    parser = scaling.part_parser(__doc__)
    parser.add_argument("--capacities", nargs="*", type=int,
                        help=f"replay capacities (default {list(PER_CAPACITIES)})")
    parser.add_argument("--per-seconds", type=float, default=2.0,
                        help="timed span of each measurement (default 2)")
    parser.add_argument("--scan-ops", type=int, default=100,
                        help="ops per jitted lax.scan call for the in-scan figures (default 100)")
    parser.add_argument("--baseline", default="",
                        help="a prioritized.py file (another version) to measure alongside")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measurements of each op, implementations alternating (default 1)")
    parser.add_argument("--count-targets", nargs="*", default=[],
                        help="targets to count each PER call's ops for: cpu, h200, ... "
                             "(default none)")
    args = parser.parse_args(argv)
    capacities = args.capacities or list(PER_CAPACITIES)
    modules = {"current": prioritized}
    if args.baseline:
        modules["baseline"] = load_module(args.baseline)
    run = common.Run("replay_cost", argv, {
        "what": ("one proportional-PER sample (batch 256) + priority update vs one uniform "
                 "replay.sample (batch 256)"),
        "sizes": {"obs": PER_OBS, "action": PER_ACTION, "batch": BATCH,
                  "note": "HalfCheetah-v5 sizes; float32 storage, 168 bytes per transition"},
        "alpha": PER_ALPHA, "eps": PER_EPS, "beta": PER_BETA, "capacities": capacities,
        "seconds_per_measurement": args.per_seconds, "scan_ops": args.scan_ops,
        "baseline": args.baseline or None, "rounds": args.rounds,
        "count_targets": args.count_targets})
    print(run.banner(f"capacities {capacities}, batch {BATCH}"), flush=True)
    rows = [measure_capacity(c, seed, args.per_seconds, args.scan_ops, modules, args.rounds,
                             args.count_targets) for seed, c in enumerate(capacities)]
    record = run.finish({"rows": rows}, METHOD, args.note)
    print(table(rows))
    scaling.write_part(args, "per", record)
    return record


if __name__ == "__main__":
    main()
