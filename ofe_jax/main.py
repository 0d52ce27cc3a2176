"""Command line: train (or resume) a run.

    python -m ofe_jax.main --config=configs/quickstart.py --workdir=runs/quickstart
    python -m ofe_jax.main --config=configs/paper.py:Hopper-v5,sac,dense --config.seeds=4
    ofe-jax ...                                  # the same, as a console script

Without --config the quick-start config runs. A workdir that holds a checkpoint is resumed.
A process of a multi-host run (parallel.num_processes > 1) trains in a watched child process
(ofe_jax/supervise.py).
"""

import os

from absl import flags

from ofe_jax import cli, supervise
from ofe_jax.config import validation

_QUICKSTART = os.path.join(os.path.dirname(__file__), "config", "quickstart.py")
_CONFIG = cli.define_config(_QUICKSTART, "Training config file (ml_collections, get_config()).")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run directory for logs, checkpoints and plots (default: runs/<env>-<algo>).")


def main(argv) -> int:
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}", 2)
    cli.import_mujoco()  # a MUJOCO_GL without its library only matters to videos
    config = cli.load_config(_CONFIG)
    validation.validate(config, device_count=1 << 30)  # a bad value: one line before jax loads
    if config.parallel.num_processes > 1 and not supervise.is_child():
        return supervise.run_child(config.parallel.process_id)
    from ofe_jax.training import run  # after flag parsing: keeps --help fast

    return run.train(config, _WORKDIR.value or os.path.join(
        "runs", f"{config.env.name}-{config.agent.name}"))


def run() -> None:
    """Console-script entry point (`ofe-jax`)."""
    cli.run(main)


if __name__ == "__main__":
    run()
