"""python -m ofe_jax.report --runs runs/paper_* --out report/   (see ofe_jax/analysis/report.py)

Run directories are given with --runs (repeatable, comma-separated, glob patterns allowed) and
as positional arguments (so a shell-expanded glob after --runs works)."""

from absl import flags

from ofe_jax import cli
from ofe_jax.analysis import stats

_RUNS = flags.DEFINE_list("runs", [], "Run directories or glob patterns (config.json + "
                          "metrics.csv); more may follow as positional arguments.")
_OUT = flags.DEFINE_string("out", "report", "Output directory.")
_IQM = flags.DEFINE_enum("iqm", "fractional", stats.IQM_CONVENTIONS, "IQM convention.")
_BOOTSTRAP_SEED = flags.DEFINE_integer("bootstrap_seed", stats.BOOTSTRAP_SEED,
                                       "RNG seed of the bootstrap.")
_RESAMPLES = flags.DEFINE_integer("resamples", stats.BOOTSTRAP_RESAMPLES, "Bootstrap resamples.",
                                  lower_bound=1)


def main(argv) -> int:
    from ofe_jax.analysis import report

    run_args = list(_RUNS.value) + list(argv[1:])
    if not run_args:
        cli.fail("no runs given (--runs)")
    written = report.make_report(run_args, _OUT.value, _IQM.value, _BOOTSTRAP_SEED.value,
                                 _RESAMPLES.value)
    for path in [written["markdown"], written["json"], *written["figures"]]:
        print(path)
    return 0


if __name__ == "__main__":
    cli.run(main)
