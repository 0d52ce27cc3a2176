"""Every results table of the documentation (and the README's figure caption), rendered from
the files in benchmarks/results/ -- so that no figure is copied by hand and none can drift.

    python -m benchmarks.tables           # rewrite every generated block in docs/ and README.md
    python -m benchmarks.tables --check   # exit 1, naming the stale pages, if any block differs

A page holds a generated block between two markers; everything between them is this module's:

    <!-- generated: NAME (python -m benchmarks.tables) -->
    ...
    <!-- end: NAME -->

Each table says which file(s) it was read from, the machine (device) and the date recorded
there. The JSON files are read in the layouts they were written in (schema 2, see common.py,
and the older ones before it); nothing here rewrites measured data. Only files that git tracks
(or has staged) are rendered, so a page renders the same in a work tree with someone's
uncommitted results as in CI's clean clone. Pure Python (json, csv, one `git ls-files`): no
jax, so tests/test_docs.py can regenerate every page in well under a second.
"""

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

from benchmarks.tables.base import (HOPPER_RUN, MARKER, REPO_ROOT, RESULTS, TABLES,  # noqa: F401
                                    Results, date_of, machine_of, md_table)
from benchmarks.tables import gpu, learning, reliability, speed  # noqa: F401,E402 - they register


# ----------------------------------------------------------------------------------------------
# The index of every results file, and the pages


def _header(res: Results, name: str) -> tuple[str, str, str, str]:
    """(benchmark, layout, machine, date) of a results file, in any layout."""
    if name.endswith(".png"):
        return ("figure", "PNG", "", "")
    if os.path.isdir(res.path(name)):
        files = sorted(f for f in os.listdir(res.path(name)) if res.exists(f"{name}/{f}"))
        return ("training run", "run directory: " + ", ".join(files), "", "")
    r = res.json(name)
    layout = "schema 2" if r.get("schema") == 2 else "older layout (before schema 2)"
    if "parts" in r and "machine" not in r and "cpu" not in r:
        first = next(iter(r["parts"].values()))
        return (r.get("benchmark", ""), layout + f", parts {', '.join(r['parts'])}",
                machine_of(first), date_of(first))
    return r.get("benchmark", ""), layout, machine_of(r), date_of(r)


def results_index(res: Results, used: dict[str, list[str]], texts: dict[str, str],
                  repo_root: str) -> str:
    """Every file in the results directory with the generated blocks that read it (`used`:
    file -> [block names]); a figure with the pages that show it (`texts`: page -> text)."""
    rows = []
    for name in res.names():
        benchmark, layout, machine, date = _header(res, name)
        read_by = sorted({b for f, blocks in used.items() for b in blocks
                          if f == name or f.startswith(name + "/")})
        shown = sorted(os.path.relpath(page, repo_root) for page, text in texts.items()
                       if name.endswith(".png") and (f"figures/{name})" in text
                                                     or f"{RESULTS}/{name})" in text))
        rows.append([f"`{name}`", benchmark, layout, machine, date,
                     ", ".join([f"`{b}`" for b in read_by] + [f"shown in {p}" for p in shown])
                     or "not tabulated"])
    return md_table(["file", "benchmark", "layout", "machine", "date", "read by"], rows)


def pages(repo_root: str) -> list[str]:
    """The pages that may hold generated blocks: README.md and docs/**/*.md."""
    found = sorted(glob.glob(os.path.join(repo_root, "docs", "**", "*.md"), recursive=True))
    return [os.path.join(repo_root, "README.md")] + found


def render(repo_root: str = REPO_ROOT, results_dir: str | None = None) -> dict[str, str]:
    """{page path: its text with every generated block rendered} for the pages that hold one.
    ValueError for a block of an unknown name, or a table that no page shows."""
    res = Results(results_dir or os.path.join(repo_root, RESULTS))
    texts = {}
    for page in pages(repo_root):
        if os.path.exists(page):
            with open(page) as f:
                texts[page] = f.read()
    shown = {m["name"]: page for page, text in texts.items() for m in MARKER.finditer(text)}
    unknown = sorted(set(shown) - set(TABLES) - {"results-index"})
    missing = sorted((set(TABLES) | {"results-index"}) - set(shown))
    if unknown or missing:
        raise ValueError(f"generated blocks of unknown tables {unknown}; tables in no page "
                         f"{missing} (benchmarks/tables/)")
    used = {}
    for name, (files, _) in TABLES.items():
        for f in files:
            used.setdefault(f, []).append(name)
    bodies = {name: fn(res) for name, (_, fn) in TABLES.items()}
    bodies["results-index"] = results_index(res, used, texts, repo_root)

    def fill(m):
        name = m["name"]
        return (f"<!-- generated: {name} (python -m benchmarks.tables) -->\n"
                f"{bodies[name].rstrip()}\n<!-- end: {name} -->")

    return {page: MARKER.sub(fill, text) for page, text in texts.items() if MARKER.search(text)}


def stale(repo_root: str = REPO_ROOT, results_dir: str | None = None) -> list[str]:
    """The pages whose generated blocks differ from what the results files render."""
    out = []
    for page, text in render(repo_root, results_dir).items():
        with open(page) as f:
            if f.read() != text:
                out.append(os.path.relpath(page, repo_root))
    return out
