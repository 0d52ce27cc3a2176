"""Environment throughput: env-steps/s of every task, both backends, several batch sizes.

Each measurement runs ``VecEnv.step`` (clipping + auto-reset + episode stats included) with
random actions inside one jitted ``lax.scan``; compilation and a warm-up call are excluded.
C MuJoCo through ``gymnasium.make`` (one env, Python loop) is measured in the same run as the
reference. Writes a record of benchmarks/common.py's schema.

    python -m benchmarks.env_throughput --out benchmarks/results/env_throughput_cpu.json
    python -m benchmarks.env_throughput --quick --out ...   # Hopper + Humanoid, batch 1 and 64
"""

from __future__ import annotations

import json
import time

import jax

from benchmarks import common
from ofe_jax import envs

QUICK_TASKS = ("Hopper-v5", "Humanoid-v5")
BATCHES = (1, 64, 256)
QUICK_BATCHES = (1, 64)
METHOD = ("VecEnv.step (clip + auto-reset + stats) in a jitted lax.scan of random actions; "
          "compile excluded. 'gymnasium' = gymnasium.make, one env, Python loop, C MuJoCo.")


def scan_length(backend: str, batch: int) -> int:
    """Steps per compiled call: long enough to amortise dispatch, short enough for CPU MJX."""
    if backend == "mujoco":
        return 500 if batch == 1 else 50
    return 20 if batch == 1 else 5


def measure_vecenv(name: str, backend: str, batch: int, min_seconds: float) -> dict:
    venv = envs.VecEnv(envs.make(name, backend=backend), batch)
    length = scan_length(backend, batch)

    def run(vs, key):
        def body(vs, step_key):
            action = jax.random.uniform(step_key, (batch, venv.action_size),
                                        minval=venv.action_low, maxval=venv.action_high)
            return venv.step(vs, action), ()

        vs, _ = jax.lax.scan(body, vs, jax.random.split(key, length))
        return vs

    run = jax.jit(run)
    reset_key, key = jax.random.split(jax.random.key(0))
    vs = venv.reset(reset_key)
    start = time.perf_counter()
    vs = jax.block_until_ready(run(vs, key))  # compile + warm-up
    compile_s = time.perf_counter() - start
    calls, start = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - start < min_seconds:
        key, call_key = jax.random.split(key)
        vs = jax.block_until_ready(run(vs, call_key))
        calls += 1
    elapsed = time.perf_counter() - start
    return {"task": name, "backend": backend, "batch": batch,
            "env_steps_per_s": calls * length * batch / elapsed,
            "compile_and_warmup_s": compile_s, "timed_env_steps": calls * length * batch}


def measure_gymnasium(name: str, min_seconds: float) -> dict:
    import gymnasium

    env = gymnasium.make(name)
    env.reset(seed=0)
    env.action_space.seed(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    return {"task": name, "backend": "gymnasium", "batch": 1,
            "env_steps_per_s": steps / elapsed, "timed_env_steps": steps}


def main(argv=None) -> dict:
    argv = common.default_argv(argv)
    parser = common.argument_parser(__doc__, "benchmarks/results/env_throughput.json",
                                    quick="Hopper + Humanoid, batch 1, 64")
    parser.add_argument("--tasks", nargs="*", help="task names (default: all, or quick set)")
    parser.add_argument("--batches", nargs="*", type=int, help="batch sizes")
    parser.add_argument("--backends", nargs="*", default=["mujoco", "mjx"])
    parser.add_argument("--min-seconds", type=float, default=1.0, help="timed span per cell")
    args = parser.parse_args(argv)
    tasks = list(args.tasks or (QUICK_TASKS if args.quick else envs.NAMES))
    batches = list(args.batches or (QUICK_BATCHES if args.quick else BATCHES))
    run = common.Run("env_throughput", argv, {
        "quick": args.quick, "tasks": tasks, "batches": batches, "backends": args.backends,
        "min_seconds": args.min_seconds,
        "scan_length": {b: {n: scan_length(b, n) for n in batches} for b in args.backends}},
        peers=("gymnasium",))
    print(run.banner(f"{len(tasks)} tasks, backends {args.backends}, batches {batches}"),
          flush=True)

    results = []
    for name in tasks:
        results.append(measure_gymnasium(name, args.min_seconds))
        print(json.dumps(results[-1]), flush=True)
        for backend in args.backends:
            for batch in batches:
                results.append(measure_vecenv(name, backend, batch, args.min_seconds))
                print(json.dumps(results[-1]), flush=True)

    rate = {(r["task"], r["backend"], r["batch"]): r["env_steps_per_s"] for r in results}
    ratios = {f"{t}/batch{b}": rate[(t, "mujoco", b)] / rate[(t, "mjx", b)]
              for (t, backend, b) in rate if backend == "mjx" and (t, "mujoco", b) in rate}
    record = run.finish({"rows": results, "mujoco_over_mjx": ratios}, METHOD, args.note)
    common.write_json(args.out, record)
    print(json.dumps(ratios, indent=2))
    print(f"# wrote {args.out} ({record['load']['wall_s']:.0f} s)")
    return record


if __name__ == "__main__":
    main()
