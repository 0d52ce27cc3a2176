"""What every benchmark shares: the machine, the versions, the git state, the load, the command
line, timing loops, text tables, and ONE JSON schema, written atomically.

Schema 2 (what every script here writes; files from before it, e.g. most of the committed
benchmarks/results/*.json, have their own older layouts and keep them):

    {
      "schema": 2,
      "benchmark": "update_throughput",   # the script: python -m benchmarks.<benchmark>
      "command": "python -m benchmarks.update_throughput --quick --out /tmp/u.json",
      "date": "2026-11-21T19:20:00+00:00",          # UTC, when the run started
      "machine": {"cpu", "cores", "usable_cores", "memory_bytes",  # the host
                  "platform", "device_kind", "device_count",      # jax's first device
                  "gpus": [{"name", "driver", "memory"}],         # nvidia-smi; [] without
                  "default_matmul_precision", "xla_flags"},
      "versions": {"python", "numpy", "jax", "jaxlib", "flax", "optax", "mujoco", "ofe_jax",
                   ...peers asked for (e.g. "torch", "sbx-rl"); None = not installed},
      "git": {"commit", "dirty", "changes"},  # changes: `git status --porcelain` lines
      "load": {"load_average_before", "load_average_after", "wall_s", "own_cpu_s",
               "machine_busy_cpu_s", "machine_total_cpu_s", "other_processes_cpu_share"},
      "parameters": {...},   # what was asked: options, sizes, constants (script-specific)
      "results": {...},      # what was measured; cells as a list under "rows" (script-specific)
      "notes": {"method": "...", "load": "...", "user": "..."}   # how; load caveat; --note
    }

`own_cpu_s` counts this process and its waited-for children (quickstart_time's runs);
`other_processes_cpu_share` = (machine busy CPU time - own) / machine CPU time over the run,
from /proc/stat. A file holding several parts (scaling.json: one per scaling_* script) is

    {"schema": 2, "benchmark": "scaling", "parts": {"updates": <record>, "envs": <record>, ...}}

and `write_json(path, record, part=name)` replaces only parts[name], keeping the others (also
those of an older schema).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata

from ofe_jax.aot.peaks import meminfo_bytes, usable_cores  # noqa: F401 - used from here

SCHEMA = 2
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE_PACKAGES = ("numpy", "jax", "jaxlib", "flax", "optax", "mujoco")
PEER_PACKAGES = ("sbx-rl", "stable_baselines3", "torch", "gymnasium")

# ----------------------------------------------------------------------------------------------
# Machine, versions, git


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpus() -> list[dict]:
    """[{name, driver, memory}] of the NVIDIA GPUs nvidia-smi lists ([] without one)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [[x.strip() for x in line.split(",")] for line in out.splitlines() if line.strip()]
    return [{"name": r[0], "driver": r[1], "memory": r[2]} for r in rows if len(r) == 3]


def machine() -> dict:
    import jax

    device = jax.devices()[0]
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": usable_cores(),
            "memory_bytes": meminfo_bytes("MemTotal"), "platform": device.platform,
            "device_kind": device.device_kind, "device_count": jax.device_count(),
            "gpus": gpus(),
            "default_matmul_precision": str(jax.config.jax_default_matmul_precision),
            "xla_flags": os.environ.get("XLA_FLAGS", "")}


def versions(peers: Sequence[str] = ()) -> dict:
    """Installed versions of python, the core packages, ofe_jax (the one imported) and `peers`."""
    import ofe_jax

    out = {"python": platform.python_version()}
    for name in (*CORE_PACKAGES, *peers):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["ofe_jax"] = ofe_jax.__version__
    return out


def git_state(root: str = REPO_ROOT) -> dict:
    """The checked-out commit of `root` and its uncommitted changes (what ran is the work tree)."""
    def git(*args):
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True,
                              check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changes = [line.strip() for line in git("status", "--porcelain").splitlines()]
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None, "changes": []}
    return {"commit": commit, "dirty": bool(changes), "changes": changes}


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def command_line(benchmark: str, argv: Sequence[str]) -> str:
    return f"python -m benchmarks.{benchmark} {shlex.join(argv)}".strip()


# ----------------------------------------------------------------------------------------------
# Load


def own_cpu_s() -> float:
    """CPU seconds of this process and its waited-for children so far."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


class LoadProbe:
    """Load averages, own CPU time and the CPU share of other processes over a span."""

    def __init__(self):
        self.load_before = os.getloadavg()
        self.jiffies = _cpu_jiffies()
        self.own = own_cpu_s()
        self.start = time.perf_counter()

    def finish(self) -> dict:
        wall, own = time.perf_counter() - self.start, own_cpu_s() - self.own
        out = {"load_average_before": [round(x, 2) for x in self.load_before],
               "load_average_after": [round(x, 2) for x in os.getloadavg()],
               "wall_s": round(wall, 1), "own_cpu_s": round(own, 1)}
        jiffies = _cpu_jiffies()
        if self.jiffies and jiffies:
            hz = os.sysconf("SC_CLK_TCK")
            busy = (jiffies[0] - self.jiffies[0]) / hz
            total = (jiffies[1] - self.jiffies[1]) / hz
            out["machine_busy_cpu_s"] = round(busy, 1)
            out["machine_total_cpu_s"] = round(total, 1)
            out["other_processes_cpu_share"] = round(max(0.0, busy - own) / max(total, 1e-9), 3)
        return out


def load_note(load: dict) -> str:
    other = load.get("other_processes_cpu_share")
    return (f"1/5/15-min load average {load['load_average_before']} before, "
            f"{load['load_average_after']} after, on {usable_cores()} usable cores; this "
            f"process (and its children) used {load['own_cpu_s']:.0f} CPU-s in "
            f"{load['wall_s']:.0f} s of wall time"
            + (f"; other processes used {100 * other:.0f}% of the machine's CPU" if other
               is not None else "")
            + ". On a CPU shared with other processes the figures are lower bounds.")


# ----------------------------------------------------------------------------------------------
# The record


class Run:
    """One benchmark run: the record's header, filled at the start, and a load probe.

        run = Run("update_throughput", argv, parameters)
        ...measure...
        record = run.finish(results, method=METHOD, note=args.note)
        write_json(args.out, record)
    """

    def __init__(self, benchmark: str, argv: Sequence[str], parameters: dict,
                 peers: Sequence[str] = ()):
        self.record = {"schema": SCHEMA, "benchmark": benchmark,
                       "command": command_line(benchmark, argv), "date": utc_now(),
                       "machine": machine(), "versions": versions(peers), "git": git_state(),
                       "load": None, "parameters": parameters, "results": None, "notes": {}}
        self.probe = LoadProbe()

    @property
    def machine(self) -> dict:
        return self.record["machine"]

    def banner(self, what: str) -> str:
        m = self.machine
        return (f"# {self.record['benchmark']}: {what}; {m['device_kind']} ({m['platform']}), "
                f"cpu {m['cpu']} x {m['usable_cores']}, jax {self.record['versions']['jax']}; "
                f"load average {self.probe.load_before[0]:.2f}")

    def finish(self, results: dict, method: str = "", note: str = "") -> dict:
        load = self.probe.finish()
        notes = {"method": method, "load": load_note(load)}
        if note:
            notes["user"] = note
        self.record.update(load=load, results=results, notes=notes)
        return self.record


def _dump(path: str, obj: dict) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, allow_nan=True)
            f.write("\n")
        os.replace(tmp, path)  # atomic: a reader sees the old file or the new one
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: str, record: dict, part: str | None = None,
               container: str | None = None) -> None:
    """Writes `record` to `path` atomically. With `part`: into parts[part] of a multi-part file
    named `container` (e.g. "scaling"), keeping the parts already there."""
    if part is None:
        _dump(path, record)
        return
    report = {"schema": SCHEMA, "benchmark": container, "parts": {}}
    try:
        with open(path) as f:
            old = json.load(f)
        if old.get("benchmark") == container:
            report["parts"].update(old.get("parts", {}))
    except (OSError, ValueError):
        pass
    report["parts"][part] = record
    _dump(path, report)


# ----------------------------------------------------------------------------------------------
# Timing and tables


def time_calls(call: Callable[[], object], seconds: float, min_calls: int,
               times: list[float] | None = None, warmup: int = 0) -> list[float]:
    """Times `call()` (which must block until its work is done) until the calls add up to
    `seconds` and number at least `min_calls`; `times` already taken count towards both, and
    `warmup` untimed calls come first."""
    for _ in range(warmup):
        call()
    times = list(times or [])
    while len(times) < min_calls or sum(times) < seconds:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def call_stats(times: list[float]) -> dict:
    return {"calls": len(times), "median_call_s": statistics.median(times),
            "min_call_s": min(times), "max_call_s": max(times), "timed_s": sum(times)}


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                 left: Sequence[int] = ()) -> str:
    """A plain-text table: columns right-aligned except those whose index is in `left`."""
    lines = [tuple(header)] + [tuple(r) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    fmt = lambda line: "  ".join(c.ljust(w) if i in left else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(line, widths))).rstrip()
    return "\n".join([fmt(lines[0]), "  ".join("-" * w for w in widths)]
                     + [fmt(line) for line in lines[1:]])


# ----------------------------------------------------------------------------------------------
# Command line


def default_argv(argv: Sequence[str] | None) -> list[str]:
    return list(sys.argv[1:] if argv is None else argv)


def argument_parser(doc: str, out: str, quick: str | None = None) -> argparse.ArgumentParser:
    """The parser every script starts from: --out (default `out`), --note, and --quick (with
    the help text `quick`) where the script has one."""
    parser = argparse.ArgumentParser(description=" ".join(doc.split("\n\n")[0].split()))
    parser.add_argument("--out", default=out, help=f"JSON to write (default {out})")
    parser.add_argument("--note", default="", help="free text stored in the JSON")
    if quick:
        parser.add_argument("--quick", action="store_true", help=quick)
    return parser


class KindDefaults:
    """Options whose default depends on the kind of run ("cpu" / "accelerator", or "full" /
    "quick"): declared with `add` (None on the command line = not given) and filled in with
    the kind's values by `resolve`.

        DEFAULTS = KindDefaults({"cpu": {"seconds": 2.0}, "accelerator": {"seconds": 5.0}},
                                {"cpu": "on CPU", "accelerator": "on accelerators"})
        DEFAULTS.add(parser, "--seconds", float, "timed span per cell")
        DEFAULTS.resolve(args, "cpu")
    """

    def __init__(self, values: dict[str, dict], labels: dict[str, str]):
        self.values, self.labels, self.dests = values, labels, []

    def add(self, parser: argparse.ArgumentParser, flag: str, kind: type, what: str) -> None:
        dest = flag.lstrip("-").replace("-", "_")
        given = [(v[dest], self.labels[k]) for k, v in self.values.items()]
        text = (f"default {given[0][0]}" if len({v for v, _ in given}) == 1 else
                "default " + ", ".join(f"{v} {label}".strip() for v, label in given))
        parser.add_argument(flag, type=kind, default=None, help=f"{what} ({text})")
        self.dests.append(dest)

    def resolve(self, args: argparse.Namespace, kind: str) -> argparse.Namespace:
        for dest in self.dests:
            if getattr(args, dest) is None:
                setattr(args, dest, self.values[kind][dest])
        return args
