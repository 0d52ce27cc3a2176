"""The post-2021 options against the baseline, one run each, same machine: SAC on HalfCheetah-v5,
2 vmapped seeds, 50k env steps, final deterministic evaluation return, wall time, updates/s.

    python -m benchmarks.variants --out benchmarks/results/variants_cpu.json
    python -m benchmarks.variants --steps 2000 --random-steps 500 --variants baseline crossq --out /tmp/v.json
    python -m benchmarks.variants --combine A.json B.json --plot all.png   # one figure of several runs

Variants (every other setting the baseline's: Adam 3e-4, batch 256, 1 update per env step):
  baseline   SAC, MLP 256x2 (the OJK21 table's "mlp")
  hl_gauss   + HL-Gauss critic (101 bins on HalfCheetah's support, configs/hl_gauss.py)
  simba      SimBa torso `--simba-units` (256) x 2 blocks + observation normalisation (the
             paper's critic is 512 wide; narrower here for the CPU)
  crossq     CrossQ with its paper's settings but a `--crossq-units` (256) wide critic (paper:
             2048; CPU)
  ofenet     OFENet (8 blocks, 240 units) + DenseMLP 256x2
`--random-steps` uniform-random steps first (and as many OFENet pretraining updates); the
deterministic evaluation (10 episodes per seed, in the compiled loop) every `--eval-every`.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks import common

TASK = "HalfCheetah-v5"
VARIANTS = ("baseline", "hl_gauss", "simba", "crossq", "ofenet")


def variant_config(name: str, args):
    from ofe_jax.config import paper, variants

    if name in ("hl_gauss", "simba", "crossq"):
        c = variants.get_config(args.task, option=name)
    else:
        c = paper.get_config(f"{args.task},sac,mlp")
    if name == "simba":
        c.agent.network.units = args.simba_units  # CPU budget (paper: 512)
    if name == "crossq":
        c.agent.critic_network.units = args.crossq_units  # CPU budget (paper: 2048)
    if name == "ofenet":
        c.agent.network.kind = "dense"
        c.agent.ofenet.enabled = True
        c.agent.ofenet.layers = paper.OFENET_LAYERS[args.task]
    c.env.backend = "mujoco"
    c.seeds, c.total_steps = args.seeds, args.steps
    c.random_steps = c.ofenet_pretrain_steps = args.random_steps
    c.log_every = c.eval_every = args.eval_every
    return c


def run_variant(name: str, args) -> dict:
    import jax

    from ofe_jax.training import Trainer

    start = time.perf_counter()
    trainer = Trainer(variant_config(name, args))
    carry = trainer.init(trainer.seed_keys())
    steps, returns = [], []
    for _ in range(trainer.plan.num_chunks):
        carry, _ = trainer.run_chunk(carry)
        returns.append(np.asarray(jax.device_get(trainer.eval_return(carry))).tolist())
        steps.append(int(carry.step))
    wall = time.perf_counter() - start
    updates = int(carry.updates)
    final = returns[-1]
    return {"variant": name, "steps": steps, "eval_returns": returns, "final_per_seed": final,
            "final_mean": float(np.mean(final)), "wall_s": wall,
            "updates_per_seed": updates, "updates_per_s_per_seed": updates / wall,
            "env_steps_per_s_per_seed": steps[-1] / wall}


def plot(rows: list[dict], path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for r in rows:
        values = np.asarray(r["eval_returns"])  # [T, seeds]
        line, = left.plot(r["steps"], values.mean(1), label=r["variant"])
        left.fill_between(r["steps"], values.min(1), values.max(1), alpha=0.2,
                          color=line.get_color())
    left.set(xlabel="env steps", ylabel="evaluation return", title="mean (band: min-max seed)")
    left.legend(fontsize="small")
    names = [r["variant"] for r in rows]
    right.bar(names, [r["final_mean"] for r in rows], color="lightgray")
    for i, r in enumerate(rows):
        right.scatter([i] * len(r["final_per_seed"]), r["final_per_seed"], color="k", zorder=3)
    right.set(ylabel="final evaluation return", title="final: mean (bar) and seeds (dots)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> dict:
    argv = common.default_argv(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default=TASK)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--random-steps", type=int, default=5_000)
    parser.add_argument("--eval-every", type=int, default=5_000)
    parser.add_argument("--simba-units", type=int, default=256)
    parser.add_argument("--crossq-units", type=int, default=256)
    parser.add_argument("--out", default="benchmarks/results/variants_cpu.json")
    parser.add_argument("--plot", default=None, help="PNG (default: --out with .png)")
    parser.add_argument("--note", default="")
    parser.add_argument("--earlier", nargs="*", default=[],
                        help="result JSONs of this benchmark whose rows join this one's (figure "
                             "and 'earlier_rows'; their commands, dates and loads stay in them)")
    parser.add_argument("--combine", nargs="+", default=None,
                        help="only plot the rows of these result JSONs together (to --plot)")
    args = parser.parse_args(argv)
    if args.combine:
        rows = []
        for path in args.combine:
            with open(path) as f:
                rows += json.load(f)["results"]["rows"]
        print(plot(rows, args.plot or "variants.png"))
        return {"rows": rows}
    run = common.Run("variants", argv, vars(args))
    print(run.banner(f"{len(args.variants)} variants, {args.task}, {args.steps} steps x "
                     f"{args.seeds} seeds"), flush=True)
    earlier = []
    for path in args.earlier:
        with open(path) as f:
            earlier += [dict(r, run=path) for r in json.load(f)["results"]["rows"]]
    rows = []
    for name in args.variants:
        rows.append(run_variant(name, args))
        r = rows[-1]
        print(f"{name}: final {r['final_mean']:.0f} (seeds {[round(x) for x in r['final_per_seed']]}), "
              f"{r['wall_s']:.0f} s, {r['updates_per_s_per_seed']:.1f} updates/s per seed",
              flush=True)
        # after every variant, so that a run cut short keeps what it measured
        figure = plot(earlier + rows, args.plot or args.out.rsplit(".", 1)[0] + ".png")
        done = [r["variant"] for r in rows]
        record = run.finish({"rows": rows, "earlier_rows": earlier, "figure": figure,
                             "complete": done == args.variants},
                            method=__doc__.split("\n\n")[2].replace("\n", " "), note=args.note)
        common.write_json(args.out, record)
    return record


if __name__ == "__main__":
    main()
