"""Score a run's latest policy in the official Gymnasium env (C MuJoCo), one seed at a time.

    python -m ofe_jax.evaluate --workdir runs/name --episodes 10 [--video out.mp4]
"""

import json
import os
import sys

import numpy as np
from absl import app, flags

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory.", required=True)
_EPISODES = flags.DEFINE_integer("episodes", 10, "Episodes per seed.")
_VIDEO = flags.DEFINE_string("video", None, "Optional .mp4 of the first seed's first episode.")


def evaluate_workdir(workdir: str, episodes: int, video: str | None = None) -> dict[int, np.ndarray]:
    """{seed: episode returns} of the latest checkpoint's deterministic policies."""
    import jax
    import ml_collections

    from ofe_jax.checkpoint import Checkpointer
    from ofe_jax.envs.gymnasium import evaluate_in_gymnasium
    from ofe_jax.train import Trainer

    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no config.json in {workdir!r}: not a run directory")
    with open(path) as f:
        config = ml_collections.ConfigDict(json.load(f))
    config.env.backend = "mujoco"  # only sizes and bounds are needed here
    trainer = Trainer(config)
    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"), config.keep_checkpoints)
    if checkpoints.latest_step() is None:
        raise FileNotFoundError(f"no checkpoint in {workdir!r}")
    carry = checkpoints.restore(trainer.abstract_carry())
    checkpoints.close()
    act = jax.jit(lambda state, obs: trainer.to_env_action(
        trainer.agent.act(state, obs, None, deterministic=True)))
    results = {}
    for i in range(config.seeds):
        state = trainer.seed_agent_state(carry, i)
        policy = lambda obs: np.asarray(act(state, np.asarray(obs, np.float32)))
        results[config.seed + i] = evaluate_in_gymnasium(
            config.env.name, policy, episodes=episodes, seed=1000 + config.seed + i,
            render_path=video if i == 0 else None)
    return results


def main(argv) -> None:
    del argv
    try:
        results = evaluate_workdir(_WORKDIR.value, _EPISODES.value, _VIDEO.value)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    for seed, returns in results.items():
        print(f"seed {seed}: mean return {returns.mean():.1f} +- {returns.std():.1f} over "
              f"{len(returns)} Gymnasium episodes")


if __name__ == "__main__":
    app.run(main)
