"""Command line: train (or resume) a run.

    python -m ofe_jax.main --config=configs/quickstart.py --workdir=runs/quickstart
    python -m ofe_jax.main --config=configs/paper.py:Hopper-v5,sac,dense --config.seeds=4
    ofe-jax ...                                  # the same, as a console script

Without --config the quick-start config runs. A workdir that holds a checkpoint is resumed.
"""

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

import configs

_QUICKSTART = os.path.join(os.path.dirname(configs.__file__), "quickstart.py")
_FLAGS = {}


def _define_flags() -> None:
    # ml_collections applies --config.field=value overrides while the flag is defined, so an
    # unknown field raises here (AttributeError/KeyError), before absl parses anything.
    _FLAGS["config"] = config_flags.DEFINE_config_file(
        "config", _QUICKSTART, "Training config file (ml_collections, get_config()).",
        lock_config=True)
    _FLAGS["workdir"] = flags.DEFINE_string(
        "workdir", None,
        "Run directory for logs, checkpoints and plots (default: runs/<env>-<algo>).")


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from ofe_jax import experiment  # after flag parsing: keeps --help fast
    from ofe_jax.checkpoint import CheckpointError

    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    try:
        config = _FLAGS["config"].value
        config.get("env")  # a config file that failed to load raises on first access
    except Exception as e:  # noqa: BLE001 - any failure of the user's config file
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        print(f"error: cannot load --config: {lines[-1] if lines else type(e).__name__}",
              file=sys.stderr)
        sys.exit(1)
    workdir = _FLAGS["workdir"].value or os.path.join(
        "runs", f"{config.env.name}-{config.agent.name}")
    try:
        code = experiment.train(config, workdir)
    except (ValueError, experiment.RunError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    sys.exit(code)


def _unknown_field(e: Exception) -> str:
    message = e
    while isinstance(message, BaseException) and message.args:
        message = message.args[0]
    detail = " ".join(str(message).replace("'", "").split())
    return f"unknown config field {detail}; see configs/default.py"


def run() -> None:
    """Console-script entry point (`ofe-jax`). Flag errors become one `error:` line."""
    try:
        _define_flags()
        app.define_help_flags()
        remaining = flags.FLAGS(sys.argv)
    except (AttributeError, KeyError) as e:  # an override of a field the config lacks
        print(f"error: {_unknown_field(e)}", file=sys.stderr)
        sys.exit(2)
    except flags.Error as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        errors = [line for line in lines if "Error:" in line]
        print(f"error: {(errors or lines or [type(e).__name__])[-1]}", file=sys.stderr)
        sys.exit(2)
    app.run(main, flags_parser=lambda _: remaining)


if __name__ == "__main__":
    run()
