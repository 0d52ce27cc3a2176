"""Cost of one replay write (`replay.uniform.add` of one env's transition, jitted, the buffer
donated) by observation storage dtype, on this CPU and compiled for GPU targets without a GPU:
the compiled program's temporary memory, and on the CPU the time of a call.

    python -m benchmarks.replay_write --out benchmarks/results/replay_write_cpu.json
    JAX_PLATFORMS=cpu python -m benchmarks.replay_write --targets cpu h100 \\
        --out benchmarks/results/replay_write_cpu.json       # GPU targets: JAX's CUDA plugin

XLA:CPU has no bfloat16 scatter: it converts the whole bfloat16 buffer to float32, writes the
rows and converts it back, so a bfloat16 write is not done in place there (a float32 temporary
of the buffer and two passes over it per write). float16 and float32 writes are in place on the
CPU, and all three are on the GPU targets. This script measures that.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common
from ofe_jax.agents import Transition
from ofe_jax.aot import targets as targets_lib
from ofe_jax.replay import uniform

CASES = {  # name: (observation size, action size, capacity)
    "quickstart": (4, 1, 100_000),  # InvertedPendulum-v5, configs/quickstart.py's replay
    "humanoid": (348, 17, 1_000_000),  # Humanoid-v5, the paper configs' replay
}
DTYPES = ("float32", "bfloat16", "float16")

METHOD = (
    "One jitted call of replay.uniform.add writing one transition (obs, action, reward, "
    "discount, next_obs; float32) into a buffer of `capacity` items whose obs and next_obs are "
    "stored in `dtype`, the buffer donated (as in the trainer). memory: the compiled program's "
    "memory_analysis() (argument, alias, temp bytes) for each target; GPU targets compiled "
    "deviceless (jax.experimental.topologies), nothing run. obs_storage_bytes = the bytes of "
    "the obs and next_obs buffers; in_place = temp < obs_storage_bytes / 2. time (CPU only, "
    "cases given by --time-cases): a filled-with-zeros buffer, 3 warm-up calls, then calls for "
    "--seconds (>= 5), each blocked until ready, dtypes interleaved round by round (one call "
    "each per round while it has fewer); median "
    "seconds per call, dispatch included.")


def _example(obs: int, act: int) -> Transition:
    zeros = lambda *shape: jnp.zeros(shape, jnp.float32)
    return Transition(obs=zeros(obs), action=zeros(act), reward=zeros(), discount=zeros(),
                      next_obs=zeros(obs))


def _abstract(tree, sharding):
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def memory(case: str, dtype: str, target) -> dict:
    obs, act, capacity = CASES[case]
    example = _example(obs, act)
    sharding = target.sharding()
    state = _abstract(jax.eval_shape(lambda: uniform.init(capacity, example, dtype)), sharding)
    items = _abstract(jax.tree.map(lambda x: x[None], example), sharding)
    compiled = jax.jit(uniform.add, donate_argnums=0).trace(state, items).lower().compile()
    m = compiled.memory_analysis()
    obs_bytes = 2 * capacity * obs * jnp.dtype(dtype).itemsize
    temp = int(m.temp_size_in_bytes)
    return {"case": case, "dtype": dtype, "target": target.name,
            "argument_bytes": int(m.argument_size_in_bytes),
            "alias_bytes": int(m.alias_size_in_bytes), "temp_bytes": temp,
            "obs_storage_bytes": obs_bytes, "in_place": temp < obs_bytes / 2}


def times(case: str, seconds: float) -> dict:
    """Median seconds of one write per dtype, on this machine's CPU, dtypes interleaved."""
    obs, act, capacity = CASES[case]
    example = _example(obs, act)
    items = jax.tree.map(lambda x: x[None], example)
    add = jax.jit(uniform.add, donate_argnums=0)
    states = {d: uniform.init(capacity, example, d) for d in DTYPES}
    samples = {d: [] for d in DTYPES}

    def call(d):
        states[d] = jax.block_until_ready(add(states[d], items))

    for d in DTYPES:
        for _ in range(3):
            call(d)
    short = lambda d: len(samples[d]) < 5 or sum(samples[d]) < seconds
    while any(map(short, DTYPES)):
        for d in filter(short, DTYPES):  # one call each per round, until each has enough
            samples[d] = common.time_calls(lambda: call(d), 0.0, len(samples[d]) + 1,
                                           samples[d])
    return {d: {"median_call_s": float(np.median(v)), "calls": len(v)} for d, v in
            samples.items()}


def main(argv=None) -> dict:
    parser = common.argument_parser(__doc__, "benchmarks/results/replay_write_cpu.json")
    parser.add_argument("--targets", nargs="+", default=["cpu"],
                        help="cpu and/or GPU targets of ofe_jax.plan (h100, h200, a100)")
    parser.add_argument("--time-cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seconds", type=float, default=3.0, help="timed span per dtype")
    args = parser.parse_args(common.default_argv(argv))
    run = common.Run("replay_write", common.default_argv(argv), vars(args).copy())
    print(run.banner("replay write by obs dtype"), flush=True)
    rows = []
    for name in args.targets:
        target = targets_lib.load(name)
        for case in CASES:
            for dtype in DTYPES:
                rows.append(memory(case, dtype, target))
                r = rows[-1]
                print(f"{name:<5} {case:<11} {dtype:<9} temp {r['temp_bytes'] / 1e6:9.2f} MB "
                      f"(obs storage {r['obs_storage_bytes'] / 1e6:8.2f} MB): "
                      f"{'in place' if r['in_place'] else 'NOT in place'}", flush=True)
    timed = {}
    for case in args.time_cases:
        timed[case] = times(case, args.seconds)
        print(f"cpu time {case}: " + ", ".join(f"{d} {v['median_call_s'] * 1e6:,.0f} us"
                                               for d, v in timed[case].items()), flush=True)
    record = run.finish({"memory": rows, "cpu_time": timed}, method=METHOD, note=args.note)
    common.write_json(args.out, record)
    return record


if __name__ == "__main__":
    main()
