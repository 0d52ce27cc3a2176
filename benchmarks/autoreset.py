"""Auto-reset on the mjx backend: `lax.cond(any(done))` against a select of states reset at
every step (envs.VecEnv autoreset "cond" | "select"), planned for a GPU without one: the
kernels, host synchronisations and projected seconds of one VecEnv step of Hopper-v5 at 8 and
4096 envs (ofe_jax.aot; needs JAX's CUDA plugin: pip install -e '.[plan]').

    JAX_PLATFORMS=cpu python -m benchmarks.autoreset --out benchmarks/results/autoreset_h100_plan.json

The cond's cost depends on how often it is taken; the plan counts its costlier branch (a reset
at every step), so both extremes are given: "cond, taken" and "cond, not taken" (= the step
without its reset branch, counted from the same program with the branch's cost removed).
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from benchmarks import common  # noqa: E402
from ofe_jax import envs  # noqa: E402
from ofe_jax.aot import flops, hlo, model, physics, targets  # noqa: E402

STEPS = 4  # VecEnv steps in the compiled scan (counts are per step)


def cell(task: str, batch: int, autoreset: str, target) -> dict:
    env = envs.make(task, backend="mjx")
    venv = envs.VecEnv(env, batch, autoreset=autoreset)
    sharding = target.sharding()
    state = jax.eval_shape(venv.reset, jax.random.PRNGKey(0))
    state = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
                         state)
    action = jax.ShapeDtypeStruct((batch, env.action_size), jnp.float32, sharding=sharding)

    def steps(vs, a):
        return jax.lax.scan(lambda c, _: (venv.step(c, a), None), vs, None, STEPS)[0]

    profile = physics.profile(env, batch)
    trips_for = physics.trip_rule(profile, env.episode_length)
    traced = jax.jit(steps).trace(state, action)
    compiled = traced.lower().compile()
    counts = hlo.count(compiled.as_text(), trips_for).as_dict()
    flop = flops.matmul_flops(traced.jaxpr, trips_for)
    seconds = model.program_seconds(counts, flop, target, "highest")
    out = {"task": task, "batch": batch, "autoreset": autoreset,
           "kernels_per_step": counts["kernels"] / STEPS, "syncs_per_step": counts["syncs"] / STEPS,
           "projected_s_per_step": seconds["total_s"] / STEPS,
           "projected_env_steps_per_s": batch * STEPS / seconds["total_s"]}
    if autoreset == "cond":  # the not-taken extreme: the step with the reset branch skipped
        computations, entry = hlo.parse_module(compiled.as_text())
        walker = hlo._Walker(computations, trips_for)
        branches = [walker.computation(b) for c in computations.values() for i in c
                    if i.opcode == "conditional" for b in hlo._branches(i)]
        cheap = min(branches, key=lambda c: c.kernels)
        costly = max(branches, key=lambda c: c.kernels)
        untaken = {k: counts[k] - STEPS * (getattr(costly, k) - getattr(cheap, k))
                   for k in ("kernels", "syncs", "bytes", "callbacks")}
        s = model.program_seconds(untaken, flop, target, "highest")
        out.update({"kernels_per_step_not_taken": untaken["kernels"] / STEPS,
                    "syncs_per_step_not_taken": untaken["syncs"] / STEPS,
                    "projected_s_per_step_not_taken": s["total_s"] / STEPS})
    return out


def main(argv=None) -> None:
    parser = common.argument_parser(__doc__, "benchmarks/results/autoreset_h100_plan.json")
    parser.add_argument("--device", default="h100")
    parser.add_argument("--task", default="Hopper-v5")
    args = parser.parse_args(common.default_argv(argv))
    target = targets.load(args.device)
    run = common.Run("autoreset", common.default_argv(argv),
                     {"device": args.device, "task": args.task, "steps_in_scan": STEPS})
    rows = []
    for batch in (8, 4096):
        for autoreset in ("cond", "select"):
            rows.append(cell(args.task, batch, autoreset, target))
            print(rows[-1], flush=True)
            common.write_json(args.out, run.finish({"rows": rows}, method=__doc__,
                                                   note=args.note))


if __name__ == "__main__":
    main()
