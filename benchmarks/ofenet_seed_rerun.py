"""One seed of the variants benchmark's "ofenet" run (SAC + OFENet 8 blocks x 240 + DenseMLP
256x2, HalfCheetah-v5, benchmarks/variants.py's config) trained alone, evaluated often, with the
diagnostics that tell a collapse from a passing dip and a policy problem from a feature problem.

    python -m benchmarks.ofenet_seed_rerun --seed 1 --steps 60000 --chunk 2500 \\
        --out /tmp/ofenet_seed1.json

After every chunk of `--chunk` env steps:
  * the loop's own deterministic evaluation (10 episodes, the run's evaluation key: at the
    steps the variants run evaluated, the same number if the trajectory is the same);
  * `--episodes` deterministic episodes in the official Gymnasium env (seeds 1000+i), each
    with its forward reward, control cost, the fraction of steps with the torso upside down
    (|rooty| > pi/2) and the fraction of saturated action entries (|a| > 0.99);
  * OFENet's BatchNorm: each layer's running mean/var against the batch statistics of 4096
    replay transitions (z = |running_mean - batch_mean| / batch_std, var ratio), i.e. whether
    the features the actor and critic see (inference mode) are what OFENet was trained on;
  * the chunk's mean losses, Q, alpha and entropy.
Each chunk's policy leaves are saved to `--policies` (npz) when given.
"""

from __future__ import annotations

import argparse
import time
import types

import numpy as np

from benchmarks import common


def build_config(args):
    from benchmarks.variants import variant_config

    ns = types.SimpleNamespace(task="HalfCheetah-v5", seeds=1, steps=args.steps,
                               random_steps=args.random_steps, eval_every=args.chunk, simba_units=256,
                               crossq_units=256)
    c = variant_config("ofenet", ns)
    c.seed, c.seeds = args.seed, args.seeds
    return c


def gymnasium_episodes(act, episodes: int) -> list[dict]:
    """Deterministic episodes in gymnasium.make("HalfCheetah-v5"), batched over episodes."""
    import gymnasium

    envs_ = [gymnasium.make("HalfCheetah-v5") for _ in range(episodes)]
    obs = np.stack([e.reset(seed=1000 + i)[0] for i, e in enumerate(envs_)])
    out = [{"return": 0.0, "forward": 0.0, "ctrl_cost": 0.0, "flipped": 0, "saturated": 0}
           for _ in envs_]
    for _ in range(1000):  # HalfCheetah never terminates: 1000 steps each
        actions = np.asarray(act(obs), np.float32)
        for i, e in enumerate(envs_):
            o, r, _, _, info = e.step(np.clip(actions[i], -1.0, 1.0))
            obs[i] = o
            d = out[i]
            d["return"] += float(r)
            d["forward"] += float(info["reward_forward"])
            d["ctrl_cost"] += float(info["reward_ctrl"])
            d["flipped"] += int(abs(e.unwrapped.data.qpos[2]) > np.pi / 2)
            d["saturated"] += int(np.sum(np.abs(actions[i]) > 0.99))
    for e, d in zip(envs_, out):
        e.close()
        d["flipped"] /= 1000.0
        d["saturated"] /= 1000.0 * 6
    return out


def batchnorm_check(trainer, carry, member: int, key) -> dict:
    """Running vs batch statistics of every OFENet BatchNorm on 4096 replay transitions."""
    import jax

    agent_state = jax.tree.map(lambda x: x[member], carry.agent)
    buffer = jax.tree.map(lambda x: x[member], carry.buffer)
    batch = trainer.parts.replay.sample(buffer, key, 4096).batch
    ofenet = trainer.agent.encoder.ofenet
    old = agent_state.ofenet.batch_stats
    _, updates = ofenet.apply({"params": agent_state.ofenet.params, "batch_stats": old},
                              batch.obs, batch.action, train=True, mutable=["batch_stats"])
    m = ofenet.batch_norm_momentum
    z_max, z_mean, ratio_min, ratio_max = [], [], [], []
    flat_old = jax.tree_util.tree_leaves_with_path(old)
    flat_new = dict(jax.tree_util.tree_leaves_with_path(updates["batch_stats"]))
    by_layer = {}
    for path, value in flat_old:
        layer, stat = jax.tree_util.keystr(path[:-1]), path[-1].key
        batch_value = (np.asarray(flat_new[path]) - m * np.asarray(value)) / (1 - m)
        by_layer.setdefault(layer, {})[stat] = (np.asarray(value), batch_value)
    for layer, s in sorted(by_layer.items()):
        (run_mean, batch_mean), (run_var, batch_var) = s["mean"], s["var"]
        z = np.abs(run_mean - batch_mean) / np.sqrt(batch_var + 1e-3)
        ratio = (run_var + 1e-3) / (batch_var + 1e-3)
        z_max.append(float(z.max()))
        z_mean.append(float(z.mean()))
        ratio_min.append(float(ratio.min()))
        ratio_max.append(float(ratio.max()))
    return {"layers": len(z_max), "z_max": max(z_max), "z_mean": float(np.mean(z_mean)),
            "var_ratio_min": min(ratio_min), "var_ratio_max": max(ratio_max)}


def main(argv=None) -> dict:
    argv = common.default_argv(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=60_000)
    parser.add_argument("--chunk", type=int, default=2_500)
    parser.add_argument("--random-steps", type=int, default=5_000,
                        help="random-action steps and OFENet pretraining updates (variants: 5k)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--gym-from", type=int, default=0,
                        help="Gymnasium episodes and BatchNorm checks from this step on")
    parser.add_argument("--member", type=int, default=None,
                        help="member diagnosed (default: the last)")
    parser.add_argument("--policies", default=None, help="npz of every chunk's policy leaves")
    parser.add_argument("--out", required=True)
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)

    import jax

    from ofe_jax.training import Trainer

    run = common.Run("ofenet_seed_rerun", argv, vars(args))
    print(run.banner(f"OFENet seed {args.seed} (x{args.seeds}), {args.steps} steps"), flush=True)
    trainer = Trainer(build_config(args))
    member = args.seeds - 1 if args.member is None else args.member
    carry = trainer.init(trainer.seed_keys())
    act_jit = jax.jit(trainer.agent.policy_action)
    rows, saved, start = [], {}, time.perf_counter()
    for _ in range(trainer.plan.num_chunks):
        carry, metrics = trainer.run_chunk(carry)
        step = int(carry.step)
        row = {"step": step, "wall_s": time.perf_counter() - start,
               "eval_return_loop": np.asarray(trainer.eval_return(carry)).tolist(),
               "metrics": {k: float(np.asarray(v)[member]) for k, v in metrics.items()
                           if np.ndim(v) == 1}}
        if step >= args.gym_from and step > args.random_steps:
            policy = jax.tree.map(lambda x: x[member], trainer.policy(carry)["agent"])
            episodes = gymnasium_episodes(lambda o: act_jit(policy, o), args.episodes)
            returns = [e["return"] for e in episodes]
            row["gymnasium"] = {"mean": float(np.mean(returns)), "min": float(np.min(returns)),
                                "max": float(np.max(returns)), "episodes": episodes}
            row["batchnorm"] = batchnorm_check(trainer, carry, member,
                                               jax.random.PRNGKey(step))
            if args.policies:
                for i, leaf in enumerate(jax.tree.leaves(policy)):
                    saved[f"{step}/{i}"] = np.asarray(leaf)
                np.savez(args.policies, **saved)
        rows.append(row)
        g = row.get("gymnasium", {})
        print(f"step {step}: loop eval {[round(x, 1) for x in row['eval_return_loop']]}, "
              f"gymnasium mean {g.get('mean', float('nan')):.0f} min {g.get('min', float('nan')):.0f}"
              f", bn {row.get('batchnorm')}, {row['wall_s']:.0f} s", flush=True)
        record = run.finish({"member_seeds": trainer.member_seeds(), "member": member,
                             "rows": rows}, method=__doc__.split("\n\n")[1].replace("\n", " "),
                            note=args.note)
        common.write_json(args.out, record)
    return record


if __name__ == "__main__":
    main()
