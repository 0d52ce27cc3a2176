"""The run directory: created, checked writable, config.json written (and compared with the one
already there on resume)."""

import json
import os

import ml_collections

from ofe_jax.config import flatten
from ofe_jax.errors import RunError

# Fields that may change between a run and its resumption (to extend a finished run).
RESUMABLE_CHANGES = ("total_steps",)


def prepare_workdir(workdir: str, config: ml_collections.ConfigDict) -> None:
    """Creates the workdir, checks it is writable and that it holds no run of another config,
    and records the resolved config as config.json."""
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise RunError(f"workdir {workdir!r} is not writable: {e.strerror or e}") from e
    path = os.path.join(workdir, "config.json")
    current = json.loads(config.to_json_best_effort())
    if os.path.exists(path):
        try:
            with open(path) as f:
                saved = json.load(f)
        except (OSError, ValueError) as e:
            raise RunError(f"{path} is unreadable ({e}); move it away or use another "
                           f"--workdir") from e
        a, b = flatten(saved), flatten(current)
        differ = sorted(k for k in a.keys() | b.keys()
                        if a.get(k) != b.get(k) and k not in RESUMABLE_CHANGES)
        if differ:
            shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in differ[:4])
            raise RunError(f"workdir {workdir!r} holds a run of a different config ({shown}"
                           f"{', ...' if len(differ) > 4 else ''}); use another --workdir")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(current, f, indent=2, sort_keys=True)
    os.replace(tmp, path)
