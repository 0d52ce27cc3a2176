"""The tables a sweep runs (`python -m ofe_jax.sweep --table=NAME`), defined once: a table is
tasks x algorithms x variants, and each (task, algorithm, variant) cell is one config of the
package's config files (config file + spec, as `--config=<file>:<spec>` takes them). Pure:
imports no jax.

    ojk21     configs/paper.py's table: 5 tasks x {sac, td3} x {mlp, dense, ojk21}
    variants  the post-2021 options (config/variants.py) on the 5 tasks with SAC:
              the baseline "mlp" cell and {hl_gauss, simba, crossq, bf16}
"""

import dataclasses
import os
from collections.abc import Callable

from ofe_jax.config import paper, variants
from ofe_jax.errors import ConfigError

_HERE = os.path.dirname(os.path.abspath(__file__))
PAPER_FILE = os.path.join(_HERE, "paper.py")
VARIANTS_FILE = os.path.join(_HERE, "variants.py")


@dataclasses.dataclass(frozen=True)
class Cell:
    task: str
    algorithm: str  # the table's algorithm (the crossq option is its own algorithm: see its spec)
    variant: str
    config_file: str  # a config file of the package: get_config(spec)
    spec: str

    @property
    def name(self) -> str:
        """The cell's directory under the sweep's root: "<task>-<algorithm>-<variant>"."""
        return f"{self.task}-{self.algorithm}-{self.variant}"

    @property
    def config_arg(self) -> str:
        """The value of `--config` that builds the cell's config."""
        return f"{self.config_file}:{self.spec}"


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    tasks: tuple[str, ...]
    algorithms: tuple[str, ...]
    variants: tuple[str, ...]
    config: Callable[[str, str, str], tuple[str, str]]  # cell -> (config file, spec)

    def cells(self, tasks=(), algorithms=(), variants=()) -> list[Cell]:
        """The cells, task major then algorithm then variant (the table's order), of the
        tasks/algorithms/variants given (all where none are); ConfigError for a value the table
        lacks."""
        chosen = [_choose(self.name, what, axis, given) for what, axis, given in (
            ("tasks", self.tasks, tasks), ("algos", self.algorithms, algorithms),
            ("variants", self.variants, variants))]
        return [Cell(t, a, v, *self.config(t, a, v))
                for t in chosen[0] for a in chosen[1] for v in chosen[2]]


def _choose(table: str, what: str, axis: tuple, given) -> tuple:
    unknown = [g for g in given if g not in axis]
    if unknown:
        raise ConfigError(f"--{what}: {unknown[0]!r} is not in table {table!r}; choose from "
                          f"{list(axis)}")
    return tuple(a for a in axis if a in given) if given else axis


def _paper_cell(task: str, algorithm: str, variant: str) -> tuple[str, str]:
    return PAPER_FILE, f"{task},{algorithm},{variant}"


def _variants_cell(task: str, algorithm: str, option: str) -> tuple[str, str]:
    if option == "mlp":  # the baseline the options start from (configs/paper.py's "mlp")
        return _paper_cell(task, algorithm, option)
    return VARIANTS_FILE, f"{task},{'crossq' if option == 'crossq' else algorithm},{option}"


TABLES = {
    "ojk21": Table("ojk21", paper.TASKS, ("sac", "td3"), paper.VARIANTS, _paper_cell),
    "variants": Table("variants", paper.TASKS, ("sac",), ("mlp", *variants.OPTIONS),
                      _variants_cell),
}
