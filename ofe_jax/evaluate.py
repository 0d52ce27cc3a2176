"""Score a run's latest policies in the official Gymnasium env (C MuJoCo), one seed at a time,
from the checkpoint's policy artifact only (never the training carry or its replay).

    python -m ofe_jax.evaluate --workdir runs/name --episodes 10 [--video out.mp4]

Each member's score is printed as soon as it is known; the video (the first member's first
episode) is rendered after all of them, so that a missing OpenGL library costs no score."""

from absl import flags

from ofe_jax import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory.", required=True)
_EPISODES = flags.DEFINE_integer("episodes", 10, "Episodes per seed.", lower_bound=1)
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
_VIDEO = flags.DEFINE_string("video", None, "Optional .mp4 of the first seed's first episode "
                             "(needs an OpenGL backend, e.g. MUJOCO_GL=egl).")


def _scores(policies, episodes: int):
    """(policy, Gymnasium episode returns [episodes]) of each policy, one at a time."""
    from ofe_jax.envs.gymnasium import score_in_gymnasium

    for policy in policies:
        yield policy, score_in_gymnasium(policy.env_name, policy, episodes=episodes,
                                         seed=1000 + policy.seed)


def score_run(workdir: str, episodes: int, step: int | None = None,
              video: str | None = None) -> list[tuple]:
    """[(policy, Gymnasium episode returns [episodes])] of every member's policy at `step`;
    with `video`, the first member's first episode is then rendered into that .mp4."""
    from ofe_jax.envs.gymnasium import record_episode
    from ofe_jax.policy import load_policies

    policies = load_policies(workdir, step)
    scored = list(_scores(policies, episodes))
    if video:
        record_episode(policies[0].env_name, policies[0], video, seed=1000 + policies[0].seed)
    return scored


def main(argv) -> int:
    del argv
    gl_failure = cli.import_mujoco()
    from ofe_jax.config.grid import point_label
    from ofe_jax.envs.gymnasium import gl_error, record_episode
    from ofe_jax.policy import load_policies

    policies = load_policies(_WORKDIR.value, _STEP.value)
    for policy, returns in _scores(policies, _EPISODES.value):
        where = f" [{point_label(policy.grid)}]" if policy.grid else ""
        print(f"seed {policy.seed}{where}: mean return {returns.mean():.1f} +- "
              f"{returns.std():.1f} over {len(returns)} Gymnasium episodes", flush=True)
    if _VIDEO.value:
        if gl_failure is not None:
            raise gl_error(gl_failure) from gl_failure
        record_episode(policies[0].env_name, policies[0], _VIDEO.value,
                       seed=1000 + policies[0].seed)
    return 0


if __name__ == "__main__":
    cli.run(main)
