"""What every table shares: the results directory (tracked files only), number formats,
Markdown tables, the source line under each table, and the registry of tables (`table`)."""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Callable

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = "benchmarks/results"  # as named in the pages, relative to the repository root
HOPPER_RUN = "hopper_sac_1m_cpu"  # SAC 256x2 on Hopper-v5, 1M env steps, on the 2-core CPU
MARKER = re.compile(r"<!-- generated: (?P<name>[\w-]+) \(python -m benchmarks\.tables\) -->\n"
                    r"(?P<body>.*?)<!-- end: (?P=name) -->", re.S)


def tracked_files(root: str) -> set[str] | None:
    """The files under `root` that git tracks or has staged (paths relative to `root`), or
    None where `root` is not in a git work tree: then every file there counts. Untracked files
    (a result being written, someone's uncommitted run) are not rendered, so the pages render
    the same here as in CI's clean clone; `git add` a new result before regenerating."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", "."],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {name for name in out.split("\0") if name}


class Results:
    """The results directory, read once per file; only its tracked files where it is in git."""

    def __init__(self, root: str):
        self.root, self._cache = root, {}
        self.tracked = tracked_files(root)

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def exists(self, name: str) -> bool:
        if self.tracked is not None and name not in self.tracked \
                and not any(f.startswith(name + "/") for f in self.tracked):
            return False
        return os.path.exists(self.path(name))

    def names(self) -> list[str]:
        """The entries at the top of the directory (files and run directories), sorted."""
        names = {os.path.basename(p) for p in glob.glob(os.path.join(self.root, "*"))}
        return sorted(n for n in names if self.exists(n))

    def json(self, name: str) -> dict:
        if name not in self._cache:
            with open(self.path(name)) as f:
                self._cache[name] = json.load(f)
        return self._cache[name]

    def csv(self, name: str) -> list[dict]:
        with open(self.path(name), newline="") as f:
            return list(csv.DictReader(f))


# ----------------------------------------------------------------------------------------------
# Formatting


def num(x, signed: bool = False) -> str:
    """A measured number at the precision it deserves: 14,250 / 198 / 56.4 / 4.82 / 0.213."""
    if x is None:
        return "—"
    x = float(x)
    sign = "+" if signed and x > 0 else ""
    a = abs(x)
    text = (f"{x:,.0f}" if a >= 1000 else f"{x:.0f}" if a >= 100 else f"{x:.1f}" if a >= 10
            else f"{x:.2f}" if a >= 1 else f"{x:.3g}")
    return sign + text


def pct(x) -> str:
    return "—" if x is None else f"{100 * float(x):.0f}%"


def md_table(header: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    """A Markdown table; columns whose index is in `right` are right-aligned."""
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    lines = [header, rule] + [[str(c) for c in r] for r in rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def machine_of(record: dict) -> str:
    """The machine a record names, in any of the layouts: 'CPU model, N cores (platform)'."""
    m = record.get("machine") if isinstance(record.get("machine"), dict) else record
    cpu = m.get("cpu") or "CPU not recorded"
    cores = m.get("usable_cores") or m.get("cores") or m.get("cpu_count")
    platform = m.get("platform") or m.get("jax_backend") or m.get("device")
    gpus = ", ".join(g["name"] for g in m.get("gpus") or [])
    return (f"{cpu}{f', {cores} cores' if cores else ''}"
            f"{f' ({platform})' if platform else ''}{f', GPUs {gpus}' if gpus else ''}")


def date_of(record: dict) -> str:
    date = record.get("date") or (record.get("machine") or {}).get("date")
    return date[:10] if date else "date not recorded"


def other_share(record: dict):
    """The CPU share of other processes during the run, where the record measured it."""
    load = record.get("load") if isinstance(record.get("load"), dict) else record
    return load.get("other_processes_cpu_share")


def source(name: str, record: dict, command: bool = True) -> str:
    """The line under a table: its file, machine, date (and command, load where recorded)."""
    parts = [f"`{RESULTS}/{name}`", machine_of(record), date_of(record)]
    share = other_share(record)
    if share is not None:
        parts.append(f"other processes used {pct(share)} of the CPU")
    if command and record.get("command"):  # without its --note (the note is in the file)
        parts.append(f"`{re.sub(r' --note .*$', '', record['command'])}`")
    return "*Source: " + "; ".join(parts) + ".*"


# ----------------------------------------------------------------------------------------------
# The tables: name -> (files read, renderer)

TABLES: dict[str, tuple[tuple[str, ...], Callable[[Results], str]]] = {}


def table(name: str, *files: str):
    def register(fn):
        TABLES[name] = (files, fn)
        return fn
    return register
