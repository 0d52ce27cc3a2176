"""python -m ofe_jax.plot --workdir runs/name  ->  runs/name/learning_curve.png"""

from absl import flags

from ofe_jax import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory holding metrics.csv.",
                               required=True)
_OUT = flags.DEFINE_string("out", None, "Output PNG (default: <workdir>/learning_curve.png).")


def main(argv) -> int:
    del argv
    from ofe_jax.analysis import figures

    print(figures.learning_curve(_WORKDIR.value, _OUT.value))
    return 0


if __name__ == "__main__":
    cli.run(main)
