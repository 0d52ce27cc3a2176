"""Score a run's latest policies in the official Gymnasium env (C MuJoCo), one seed at a time,
from the checkpoint's policy artifact only (never the training carry or its replay).

    python -m ofe_jax.evaluate --workdir runs/name --episodes 10 [--video out.mp4]
"""

from absl import flags

from ofe_jax import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory.", required=True)
_EPISODES = flags.DEFINE_integer("episodes", 10, "Episodes per seed.", lower_bound=1)
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
_VIDEO = flags.DEFINE_string("video", None, "Optional .mp4 of the first seed's first episode "
                             "(needs an OpenGL backend, e.g. MUJOCO_GL=egl).")


def score_run(workdir: str, episodes: int, step: int | None = None,
              video: str | None = None) -> list[tuple]:
    """[(policy, Gymnasium episode returns [episodes])] of every member's policy at `step`."""
    from ofe_jax.envs.gymnasium import score_in_gymnasium
    from ofe_jax.policy import load_policies

    return [(policy, score_in_gymnasium(policy.env_name, policy, episodes=episodes,
                                        seed=1000 + policy.seed,
                                        render_path=video if i == 0 else None))
            for i, policy in enumerate(load_policies(workdir, step))]


def main(argv) -> int:
    del argv
    from ofe_jax.config.grid import point_label

    for policy, returns in score_run(_WORKDIR.value, _EPISODES.value, _STEP.value,
                                     _VIDEO.value):
        where = f" [{point_label(policy.grid)}]" if policy.grid else ""
        print(f"seed {policy.seed}{where}: mean return {returns.mean():.1f} +- "
              f"{returns.std():.1f} over {len(returns)} Gymnasium episodes")
    return 0


if __name__ == "__main__":
    cli.run(main)
