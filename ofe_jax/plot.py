"""python -m ofe_jax.plot --workdir runs/name  ->  runs/name/learning_curve.png"""

import sys

from absl import app, flags

from ofe_jax import plotting

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory holding metrics.csv.",
                               required=True)
_OUT = flags.DEFINE_string("out", None, "Output PNG (default: <workdir>/learning_curve.png).")


def main(argv) -> None:
    del argv
    try:
        print(plotting.learning_curve(_WORKDIR.value, _OUT.value))
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
