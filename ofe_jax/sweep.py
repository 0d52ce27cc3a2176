"""Command line: run a results table as one resumable command, then its report.

    python -m ofe_jax.sweep --table=ojk21 --seeds=4 --root=runs/ojk21
    python -m ofe_jax.sweep --table=variants --tasks=Hopper-v5 --grid=tau=0.005,0.01
    python -m ofe_jax.sweep --table=ojk21 --root=runs/ojk21 --report_only

Every (task, algorithm, variant) cell of the table (ofe_jax/config/tables.py), in order, is one
vmapped multi-seed run in `root/<task>-<algorithm>-<variant>/`, trained by its own
`python -m ofe_jax.main` process (its own logs, lock, checkpoints, exit code and memory; its
output passes through). Every cell's config is built and validated before anything runs, and a
cell directory that holds a run of another config is refused then. A cell whose latest
checkpoint is at its planned total steps is skipped; one with a checkpoint resumes; so running
the same command again continues an interrupted sweep. At the end (and with --report_only),
`root/report/` is rebuilt over every cell of the table present in `root`.

Exit codes: 0 done; 1 a cell failed (one line names it) or bad input; 2 bad flags; 130 / 143 /
138 after SIGINT / SIGTERM / SIGUSR1. Ctrl-C reaches the running cell too (same process group),
which saves a checkpoint and exits, and the sweep stops; a signal sent to the sweep's process
alone stops it once the running cell has finished.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys

from absl import flags

from ofe_jax import cli
from ofe_jax.config.tables import TABLES, Cell
from ofe_jax.errors import ConfigError, ReportError, RunError, UserError

_TABLE = flags.DEFINE_enum("table", "ojk21", list(TABLES), "The table to run "
                           "(ofe_jax/config/tables.py).")
_SEEDS = flags.DEFINE_integer("seeds", 4, "Seeds per cell, vmapped in one run "
                              "(--config.seeds).", lower_bound=1)
_ROOT = flags.DEFINE_string("root", None, "Directory of the cells and the report "
                            "(default: runs/<table>).")
_TASKS = flags.DEFINE_list("tasks", [], "Tasks of the table to run (default: all).")
_ALGOS = flags.DEFINE_list("algos", [], "Algorithms of the table to run (default: all).")
_VARIANTS = flags.DEFINE_list("variants", [], "Variants of the table to run (default: all).")
_TOTAL_STEPS = flags.DEFINE_integer("total_steps", None, "Env steps per seed of every cell "
                                    "(default: the config's).", lower_bound=1)
_OVERRIDE = flags.DEFINE_multi_string("override", [], "A config override for every cell, "
                                      "--override=--config.<field>=<value> (repeatable).")
_GRID = flags.DEFINE_multi_string("grid", [], "A hyperparameter grid for every cell, "
                                  "--grid=<field>=v1,v2 (repeatable): --config.grid.<field>.")
_REPORT_ONLY = flags.DEFINE_bool("report_only", False, "Only rebuild root/report from the "
                                 "cells present.")

STOP_SIGNALS = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGUSR1: "SIGUSR1"}
INTERRUPTED = {128 + int(s) for s in STOP_SIGNALS}  # exit codes of a run stopped by a signal


@dataclasses.dataclass
class Planned:
    cell: Cell
    workdir: str
    total_steps: int  # the run's planned steps (rounded up to whole chunks, as training does)
    latest_step: int | None  # of its latest checkpoint; None: none yet


def _config_args() -> list[str]:
    """The config flags every cell gets (after its --config): seeds, total steps, the
    overrides, the grids."""
    args = [f"--config.seeds={_SEEDS.value}"]
    if _TOTAL_STEPS.value is not None:
        args.append(f"--config.total_steps={_TOTAL_STEPS.value}")
    for override in _OVERRIDE.value:
        field, eq, _ = override.partition("=")
        if not field.startswith("--config.") or len(field) == len("--config.") or not eq:
            raise ConfigError(f"--override={override} must be --config.<field>=<value>")
        args.append(override)
    for grid in _GRID.value:
        field, _, values = grid.partition("=")
        if not field or not values.strip(" ,"):
            raise ConfigError(f"--grid={grid} must be <field>=v1,v2,... with at least one "
                              f"value, e.g. --grid=tau=0.005,0.01")
        args.append(f"--config.grid.{grid}")
    return args


def _load_config(cell: Cell, args: list[str]):
    """The cell's config as `python -m ofe_jax.main --config=<cell> <args>` builds it: the same
    ml_collections flag parsing, on a flag registry of its own."""
    from ml_collections import config_flags

    argv = ["ofe_jax.main", f"--config={cell.config_arg}", *args]
    registry = flags.FlagValues()
    holder = config_flags.DEFINE_config_file("config", None, flag_values=registry,
                                             lock_config=True, sys_argv=argv)
    try:
        registry(argv)
        return holder.value
    except (AttributeError, KeyError) as e:  # an override of a field the config lacks
        raise ConfigError(f"{cell.name}: {cli.unknown_field(e, args)}") from None
    except Exception as e:  # noqa: BLE001 - flags.Error (a value of the wrong type) and others
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        raise ConfigError(f"{cell.name}: {lines[-1] if lines else type(e).__name__}") from None


def _latest_step(workdir: str) -> int | None:
    directory = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(directory):
        return None
    from ofe_jax.checkpoint import Checkpointer

    checkpoints = Checkpointer(directory, create=False, asynchronous=False)
    try:
        return checkpoints.latest_step()
    finally:
        checkpoints.close()


def _plan(cells: list[Cell], root: str, args: list[str]) -> list[Planned]:
    """Builds and validates every cell's config and checks its directory; writes nothing."""
    import jax

    jax.config.update("jax_platforms", "cpu")  # this process only: its cells use the devices
    from ofe_jax.config import validation
    from ofe_jax.training import plan as plan_lib, workdir as workdir_lib

    planned = []
    for cell in cells:
        config = _load_config(cell, args)
        try:  # the device count is checked by the cell's own run
            sizes = validation.validate(config, device_count=1 << 30)
        except ConfigError as e:
            raise ConfigError(f"{cell.name}: {e}") from None
        workdir = os.path.join(root, cell.name)
        saved = os.path.join(workdir, "config.json")
        if os.path.exists(saved):
            try:
                with open(saved) as f:
                    differ = workdir_lib.config_differences(
                        json.load(f), json.loads(config.to_json_best_effort()))
            except (OSError, ValueError) as e:
                raise RunError(f"{saved} is unreadable ({e}); move it away or use another "
                               f"--root") from None
            if differ:
                raise RunError(f"{workdir} holds a run of a different config ({differ}); use "
                               f"another --root or the flags that made it")
        planned.append(Planned(cell, workdir, plan_lib.make_plan(config, *sizes).total_steps,
                               _latest_step(workdir)))
    return planned


class _Stop:
    """Records SIGINT/SIGTERM/SIGUSR1 (every one: the running cell, in the same process group,
    decides what a second Ctrl-C does); the sweep stops before its next cell."""

    def __init__(self):
        self.signum: int | None = None
        for s in STOP_SIGNALS:
            signal.signal(s, self._handle)

    def _handle(self, signum, frame):
        self.signum = self.signum or signum


def _say(text: str) -> None:
    print(text, flush=True)


def _stopped(how: str, i: int, n: int, name: str, code: int) -> int:
    print(f"interrupted {how} cell {i} of {n} ({name}); run the same command to resume",
          file=sys.stderr, flush=True)
    return code


def _run_cells(planned: list[Planned], args: list[str], stop: _Stop) -> int:
    n = len(planned)
    for i, p in enumerate(planned, start=1):
        where = f"cell {i} of {n}: {p.cell.name}"
        if stop.signum:
            return _stopped("before", i, n, p.cell.name, 128 + stop.signum)
        if p.latest_step is not None and p.latest_step >= p.total_steps:
            _say(f"{where}: skipped (finished at step {p.latest_step:,})")
            continue
        _say(f"{where}: " + (f"resuming at step {p.latest_step:,} of {p.total_steps:,}"
                             if p.latest_step else f"starting ({p.total_steps:,} steps)"))
        code = subprocess.call([sys.executable, "-m", "ofe_jax.main",
                                f"--config={p.cell.config_arg}", f"--workdir={p.workdir}",
                                *args])
        code = 128 - code if code < 0 else code  # killed by a signal
        if code in INTERRUPTED:
            return _stopped("at", i, n, p.cell.name, code)
        if code:
            raise RunError(f"cell {i} of {n} ({p.cell.name}) failed with exit code {code} "
                           f"(its output is above; {p.workdir}); run the same command to "
                           f"resume once the cause is fixed")
        if stop.signum and i < n:
            return _stopped("after", i, n, p.cell.name, 128 + stop.signum)
    return 0


def _report(root: str, cells: list[Cell]) -> int:
    """Rebuilds root/report over the table's cells present in root (those with an evaluation)."""
    from ofe_jax.analysis import report, runs

    present = []
    for cell in cells:
        workdir = os.path.join(root, cell.name)
        if not os.path.isdir(workdir):
            continue
        try:
            runs.load_runs(workdir)
            present.append(workdir)
        except ReportError as e:
            _say(f"report: {cell.name} left out: {e}")
    if not present:
        raise ReportError(f"no cells of the table in {root!r} to report on")
    written = report.make_report(present, os.path.join(root, "report"))
    _say(f"report of {len(present)} cell(s): {written['markdown']}")
    return 0


def main(argv) -> int:
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}", 2)
    cli.import_mujoco()  # a MUJOCO_GL without its library only matters to videos
    table = TABLES[_TABLE.value]
    cells = table.cells(_TASKS.value, _ALGOS.value, _VARIANTS.value)
    root = _ROOT.value or os.path.join("runs", table.name)
    if os.path.exists(root) and not os.path.isdir(root):
        raise UserError(f"--root {root!r} is not a directory")
    if _REPORT_ONLY.value:
        return _report(root, table.cells())
    args = _config_args()
    stop = _Stop()  # before the (slow) validation: a Ctrl-C there stops before any cell
    planned = _plan(cells, root, args)
    code = _run_cells(planned, args, stop)
    return code or _report(root, table.cells())


def run() -> None:
    cli.run(main)


if __name__ == "__main__":
    run()
