"""Hyperparameter grids inside one vmapped program (pure: imports no jax).

    --config.grid.actor_learning_rate=1e-3,3e-4 --config.grid.tau=0.005,0.01

Each `grid.<field>` (one per `choices.GRID_FIELDS`, nested like the agent config:
`grid.ofenet.learning_rate`) is "" (not gridded) or a comma-separated list of numbers. The grid
is the product of the lists; every (grid point, seed) pair is one member of the run's vmapped
axis (grid point major: member m is grid point m // seeds, seed seed + m % seeds), so all grid
points share the same seeds. Only numeric hyperparameters that change no shape can be gridded.
"""

import itertools

import ml_collections

from ofe_jax.config.choices import GRID_FIELDS
from ofe_jax.errors import ConfigError


def grid_section() -> ml_collections.ConfigDict:
    """The default `grid` section: every field "" (not gridded)."""
    g = ml_collections.ConfigDict()
    for field in GRID_FIELDS:
        section, _, name = field.rpartition(".")
        node = g
        if section:
            if section not in node:
                node[section] = ml_collections.ConfigDict()
            node = node[section]
        node[name] = ""
    return g


def _values(field: str, text) -> list[float]:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return [float(text)]
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if not values or any(p == "" for p in parts):
        raise ConfigError(f"grid.{field}={text!r} must be a comma-separated list of numbers, "
                          f"e.g. --config.grid.{field}=1e-3,3e-4")
    return values


def gridded(config: ml_collections.ConfigDict) -> dict[str, list[float]]:
    """{agent field: values} of the gridded fields ({} without a grid)."""
    out = {}
    for field in GRID_FIELDS:
        section, _, name = field.rpartition(".")
        node = config.grid[section] if section else config.grid
        text = node[name]
        if text != "":
            out[field] = _values(field, text)
    return out


def grid_points(config: ml_collections.ConfigDict) -> list[dict[str, float]]:
    """The grid's points, each {field: value} ([{}] without a grid), in product order."""
    fields = gridded(config)
    return [dict(zip(fields, combo)) for combo in itertools.product(*fields.values())]


def point_label(point: dict[str, float]) -> str:
    """"actor_learning_rate=0.001,tau=0.01" ("" for the config's own values)."""
    return ",".join(f"{k}={v:g}" for k, v in point.items())
