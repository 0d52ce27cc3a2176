"""The quick-start task (SAC, InvertedPendulum-v5, 15k steps, configs/quickstart.py) under named
config overrides, several vmapped seeds each, in one process: the evaluation return every
`eval_every` steps per seed, the first step at the maximum (1000), the observation statistics at
the end. Made to separate factors (e.g. SimBa torso vs observation normalisation).

    python -m benchmarks.quickstart_variants --out /tmp/q.json \\
        --condition baseline: --condition simba:agent.network.kind=simba \\
        --condition norm:env.normalize_obs=True --seeds 4

A condition is NAME:FIELD=VALUE,FIELD=VALUE,... (fields of the config, values parsed as Python
literals where they parse, else strings); the conditions run one after another, each as one
vmapped program of `--seeds` seeds (seed s of it = the CLI's `--config.seed=s`), through
`ofe_jax.training.Trainer` (as the CLI's loop, without checkpoints and logs).
"""

from __future__ import annotations

import argparse
import ast
import time

import numpy as np

from benchmarks import common

MAX_RETURN = 1000.0  # InvertedPendulum-v5: 1 per step, 1000 steps


def parse_condition(text: str) -> tuple[str, dict]:
    name, _, rest = text.partition(":")
    overrides = {}
    for item in filter(None, rest.split(",")):
        field, _, value = item.partition("=")
        try:
            overrides[field] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[field] = value
    return name, overrides


def condition_config(overrides: dict, args):
    from ofe_jax.config import quickstart

    c = quickstart.get_config()
    c.seed, c.seeds = args.seed, args.seeds
    c.total_steps = args.steps
    c.env.backend = "mujoco"
    for field, value in overrides.items():
        node = c
        *path, last = field.split(".")
        for part in path:
            node = node[part]
        node[last] = value
    return c


def run_condition(name: str, overrides: dict, args) -> dict:
    import jax

    from ofe_jax.training import Trainer

    start = time.perf_counter()
    trainer = Trainer(condition_config(overrides, args))
    carry = trainer.init(trainer.seed_keys())
    steps, returns, chunk_metrics = [], [], []
    for _ in range(trainer.plan.num_chunks):
        carry, metrics = trainer.run_chunk(carry)
        steps.append(int(carry.step))
        returns.append(np.asarray(jax.device_get(trainer.eval_return(carry))).tolist())
        chunk_metrics.append({k: np.asarray(jax.device_get(metrics[k])).tolist()
                              for k in ("critic_loss", "q_mean", "alpha", "entropy")
                              if k in metrics})
    values = np.asarray(returns)  # [T, seeds]
    first = [next((s for s, r in zip(steps, values[:, i]) if r >= MAX_RETURN), None)
             for i in range(values.shape[1])]
    stats = None
    if carry.obs_stats is not None:
        stats = {k: np.asarray(jax.device_get(getattr(carry.obs_stats, k))).tolist()
                 for k in ("mean", "var", "count")}
    return {"condition": name, "overrides": overrides, "seeds": trainer.member_seeds(),
            "steps": steps, "eval_returns": returns, "final_per_seed": values[-1].tolist(),
            "first_step_at_max": first,
            "seeds_at_max_at_end": int(np.sum(values[-1] >= MAX_RETURN)),
            "mean_last_3_evals": values[-3:].mean().item(), "chunk_metrics": chunk_metrics,
            "obs_stats_at_end": stats, "wall_s": time.perf_counter() - start}


def main(argv=None) -> dict:
    argv = common.default_argv(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--condition", action="append", required=True,
                        help="NAME:FIELD=VALUE,... (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=15_000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    run = common.Run("quickstart_variants", argv, vars(args))
    print(run.banner(f"{len(args.condition)} conditions x {args.seeds} seeds"), flush=True)
    rows = []
    for text in args.condition:
        name, overrides = parse_condition(text)
        rows.append(run_condition(name, overrides, args))
        r = rows[-1]
        print(f"{name}: final {[round(x) for x in r['final_per_seed']]}, first at 1000 "
              f"{r['first_step_at_max']}, {r['wall_s']:.0f} s", flush=True)
        record = run.finish({"rows": rows, "complete": len(rows) == len(args.condition)},
                            method=__doc__.split("\n\n")[2].replace("\n", " "), note=args.note)
        common.write_json(args.out, record)  # after every condition: a cut run keeps its rows
    return record


if __name__ == "__main__":
    main()
