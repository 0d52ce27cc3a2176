"""The one reader of run directories (`config.json` + `metrics.csv`, as ofe_jax.training
writes them), for the figures, the report and the sweep.

    run = load_run("runs/hopper")     # {"path", "config", "task", "algorithm", "variant",
                                      #  "grid", "curves": {seed: (steps [T], returns [T])}}
    units = load_runs("runs/scan")    # one such dict per grid point of a run with a grid
"""

import csv
import glob
import json
import math
import os

import numpy as np

from ofe_jax.errors import ReportError


def variant_label(agent: dict) -> str:
    """"ojk21", "baseline" or a descriptive name of the network: "ojk21" = OFENet + DenseNet
    MLP 2 x 2048; "baseline" = MLP 256 x 2 without OFENet; otherwise e.g. "dense2048" (no
    OFENet), "mlp256+ofenet", "dense1024+ofenet", "mlp256x3"."""
    network, ofenet = agent["network"], agent.get("ofenet", {})
    kind, units = network["kind"], int(network["units"])
    layers = int(network.get("layers", 2))
    enabled = bool(ofenet.get("enabled", False))
    if enabled and kind == "dense" and (units, layers) == (2048, 2):
        return "ojk21"
    if not enabled and kind == "mlp" and (units, layers) == (256, 2):
        return "baseline"
    return f"{kind}{units}" + (f"x{layers}" if layers != 2 else "") + ("+ofenet" if enabled
                                                                        else "")


# configs/paper.py's variants -> their report labels.
PAPER_VARIANT_LABELS = {"mlp": "baseline", "dense": "ojk21-networks", "ojk21": "ojk21"}


def run_label(config: dict) -> str:
    """A run's variant label: the config's `variant` (set by configs/paper.py: "baseline" =
    MLP 256x2; "ojk21-networks" = OFENet + DenseNet 2x2048 with one actor, the ablation; "ojk21"
    = those networks with Ape-X-style collection, the whole method), else `variant_label` of
    its network (runs made without configs/paper.py)."""
    variant = config.get("variant") or ""
    if variant:
        return PAPER_VARIANT_LABELS.get(variant, variant)
    return variant_label(config["agent"])


def read_config(run: str) -> dict:
    """config.json of a run, with its task, algorithm and variant label."""
    path = os.path.join(run, "config.json")
    try:
        with open(path) as f:
            config = json.load(f)
        task = config["env"]["name"]
        algorithm = config["agent"]["name"]
        variant = run_label(config)
    except (OSError, ValueError) as e:
        raise ReportError(f"{path} is unreadable: {e}") from e
    except (KeyError, TypeError) as e:
        raise ReportError(f"{path} lacks the field {e} (env.name, agent.name, "
                          f"agent.network.kind/units, agent.ofenet.enabled)") from e
    return {"config": config, "task": str(task), "algorithm": str(algorithm),
            "variant": variant}


def read_metrics(run: str, required=("step", "seed")) -> list[dict]:
    """The rows of metrics.csv (strings, as written); ReportError if unreadable or a required
    column is missing."""
    path = os.path.join(run, "metrics.csv")
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = set(required) - set(reader.fieldnames or ())
            if missing:
                raise ReportError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
            return list(reader)
    except OSError as e:
        raise ReportError(f"{path} is unreadable: {e.strerror or e}") from e


def grid_labels(run: str) -> list[str]:
    """The grid points of a run's metrics.csv, in order ([""] without a grid)."""
    rows = read_metrics(run)
    return list(dict.fromkeys((row.get("grid") or "") for row in rows)) or [""]


def eval_curves(run: str, grid: str = "") -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """seed -> (steps, eval returns), sorted by step, from the rows that hold an evaluation
    (of grid point `grid`: "" without a grid)."""
    path = os.path.join(run, "metrics.csv")
    table: dict[int, dict[int, float]] = {}
    for line, row in enumerate(read_metrics(run, ("step", "seed", "eval_return")), start=2):
        value = (row["eval_return"] or "").strip()
        if not value or (row.get("grid") or "") != grid:
            continue
        try:
            step, seed, ret = int(row["step"]), int(row["seed"]), float(value)
        except (TypeError, ValueError) as e:
            raise ReportError(f"{path}, line {line}: unreadable row ({e})") from e
        if math.isfinite(ret):
            table.setdefault(seed, {})[step] = ret
    if not table:
        raise ReportError(f"run {run!r} has no evaluation yet (no eval_return in metrics.csv)")
    out = {}
    for seed, by_step in table.items():
        steps = np.array(sorted(by_step))
        out[seed] = (steps, np.array([by_step[s] for s in steps]))
    return out


def load_runs(run: str) -> list[dict]:
    """One run directory: its config-derived identity and its evaluation curves per seed, once
    per grid point ("grid": its label, also appended to the variant label)."""
    if not os.path.isdir(run):
        raise ReportError(f"{run!r} is not a run directory (not a directory)")
    for name in ("config.json", "metrics.csv"):
        if not os.path.isfile(os.path.join(run, name)):
            raise ReportError(f"{run!r} is not a run directory (no {name})")
    info = read_config(run)
    units = []
    for label in grid_labels(run):
        unit = dict(info, path=run, grid=label, curves=eval_curves(run, label))
        if label:
            unit["variant"] = f"{info['variant']} [{label}]"
        units.append(unit)
    return units


def load_run(run: str) -> dict:
    """`load_runs` of a run without a hyperparameter grid."""
    units = load_runs(run)
    if len(units) > 1:
        raise ReportError(f"run {run!r} has {len(units)} grid points: read it with load_runs")
    return units[0]


def expand_runs(patterns: list[str]) -> list[str]:
    """Paths and glob patterns (expanded here too, for quoted or unmatched shell globs) ->
    distinct paths, in order. An argument that matches nothing is an error."""
    runs, seen = [], set()
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise ReportError(f"no runs matched {pattern!r}")
        for path in matches:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                runs.append(path)
    if not runs:
        raise ReportError("no runs given")
    return runs
