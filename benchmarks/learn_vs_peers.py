"""Learning against a peer on a real task, same machine, one run: SAC (MLP 256x2) on Hopper-v5,
ofe_jax and sbx (araffin/sbx), the same budget, final deterministic return in Gymnasium.

    python -m benchmarks.learn_vs_peers --out benchmarks/results/learn_vs_peers_cpu.json
    python -m benchmarks.learn_vs_peers --steps 2000 --seeds 2 --episodes 2 --out /tmp/l.json

Both: SAC v2 with the papers' defaults (Adam 3e-4, batch 256, tau 0.005, gamma 0.99, automatic
temperature with target entropy -|A| in the log-alpha form, 1M replay), `--random-steps`
uniform-random actions first, one gradient update per env step, `--steps` env steps per seed.
ofe_jax trains its seeds vmapped in one compiled program (C MuJoCo backend on a CPU); sbx one
seed after another (its `SAC.learn`). Each final policy is scored deterministically in
`gymnasium.make(task)` for `--episodes` episodes (episode i of seed s reset with 1000 + 100 s
+ i, the same for both libraries). Reported per library: each seed's mean return, the mean over
seeds with its 95% bootstrap CI and t-interval, and the wall time of training (compile
included) and of scoring.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks import common

TASK = "Hopper-v5"
METHOD = __doc__.split("\n\n")[2].replace("\n", " ")


def eval_seeds(seed: int, episodes: int) -> int:
    return 1000 + 100 * seed  # episode i: this + i (envs.gymnasium.score_in_gymnasium)


def train_ofe_jax(args) -> dict:
    import jax

    from ofe_jax.config import defaults
    from ofe_jax.envs.gymnasium import score_in_gymnasium
    from ofe_jax.training import Trainer

    c = defaults.get_config()  # SAC, MLP 256x2, Hopper-v5, the papers' values
    c.env.name, c.env.backend = args.task, "mujoco"
    c.seeds, c.seed = args.seeds, 0
    c.total_steps, c.random_steps = args.steps, args.random_steps
    c.log_every = min(5000, args.steps)
    start = time.perf_counter()
    trainer = Trainer(c)
    carry = trainer.init(trainer.seed_keys())
    for _ in range(trainer.plan.num_chunks):
        carry, _ = trainer.run_chunk(carry)
    jax.block_until_ready(carry)
    train_s = time.perf_counter() - start
    policies = jax.device_get(trainer.policy(carry))
    act = jax.jit(lambda policy, obs: trainer.to_env_action(
        trainer.agent.policy_action(policy, obs)))
    start, returns = time.perf_counter(), []
    for s in range(args.seeds):
        policy = jax.tree.map(lambda x: x[s], policies)
        returns.append(score_in_gymnasium(args.task, lambda o: np.asarray(act(policy, o)),
                                          episodes=args.episodes,
                                          seed=eval_seeds(s, args.episodes)).tolist())
    return {"train_wall_s": train_s, "score_wall_s": time.perf_counter() - start,
            "seeds_trained": "all seeds in one vmapped program", "returns": returns,
            "env_steps_per_seed": int(carry.step)}


def train_sbx(args) -> dict:
    import gymnasium
    import sbx

    from ofe_jax.envs.gymnasium import score_in_gymnasium

    train_s, returns = 0.0, []
    for s in range(args.seeds):
        start = time.perf_counter()
        model = sbx.SAC("MlpPolicy", gymnasium.make(args.task), learning_starts=args.random_steps,
                        buffer_size=1_000_000, batch_size=256, learning_rate=3e-4, tau=0.005,
                        gamma=0.99, train_freq=1, gradient_steps=1, seed=s, verbose=0)
        model.learn(total_timesteps=args.steps)
        train_s += time.perf_counter() - start
        policy = lambda o: model.predict(o, deterministic=True)[0]
        returns.append(score_in_gymnasium(args.task, policy, episodes=args.episodes,
                                          seed=eval_seeds(s, args.episodes)).tolist())
    return {"train_wall_s": train_s, "seeds_trained": "one after another",
            "returns": returns, "env_steps_per_seed": args.steps}


def summary(returns: list[list[float]]) -> dict:
    from ofe_jax.analysis import stats

    per_seed = [float(np.mean(r)) for r in returns]
    mean, half = stats.mean_and_ci(np.asarray(per_seed)[None])
    return {"per_seed_mean": per_seed, "mean": float(np.mean(per_seed)),
            "bootstrap_ci95": list(stats.bootstrap_ci(per_seed)),
            "t_ci95": [float(mean[0] - half[0]), float(mean[0] + half[0])]}


def main(argv=None) -> dict:
    argv = common.default_argv(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default=TASK)
    parser.add_argument("--steps", type=int, default=50_000, help="env steps per seed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--random-steps", type=int, default=5_000)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--libraries", nargs="+", default=["ofe_jax", "sbx"],
                        choices=["ofe_jax", "sbx"])
    parser.add_argument("--out", default="benchmarks/results/learn_vs_peers_cpu.json")
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    run = common.Run("learn_vs_peers", argv, vars(args), peers=("sbx-rl", "gymnasium"))
    print(run.banner(f"SAC 256x2 on {args.task}, {args.steps} steps x {args.seeds} seeds"))
    results = {}
    for library in args.libraries:
        measured = {"ofe_jax": train_ofe_jax, "sbx": train_sbx}[library](args)
        measured.update(summary(measured["returns"]))
        results[library] = measured
        ci = measured["bootstrap_ci95"]
        print(f"{library}: final return {measured['mean']:.0f} [{ci[0]:.0f}, {ci[1]:.0f}] "
              f"(per seed {[round(x) for x in measured['per_seed_mean']]}), training "
              f"{measured['train_wall_s']:.0f} s", flush=True)
    record = run.finish(results, method=METHOD, note=args.note)
    common.write_json(args.out, record)
    return record


if __name__ == "__main__":
    main()
