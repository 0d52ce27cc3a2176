"""Wall time of the CPU quick start through the command line, compile included.

    python -m benchmarks.quickstart_time --out benchmarks/results/quickstart_cpu.json
"""

import argparse
import csv
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import jax


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="benchmarks/results/quickstart_cpu.json")
    parser.add_argument("--config", default="configs/quickstart.py")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    workdir = os.path.join(tempfile.mkdtemp(), "run")
    command = [sys.executable, "-m", "ofe_jax.main", f"--config={args.config}",
               f"--workdir={workdir}"]
    load_before = os.getloadavg()
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"quick start failed:\n{result.stderr[-3000:]}")
    with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    evals = [(int(r["step"]), float(r["eval_return"])) for r in rows if r["eval_return"]]
    first_max = next((s for s, r in evals if r >= 1000.0), None)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    record = {
        "benchmark": "quickstart_time", "config": args.config,
        "command": " ".join(["python", "-m", "ofe_jax.main", f"--config={args.config}"]),
        "device": jax.devices()[0].device_kind, "cpu": cpu, "cores": os.cpu_count(),
        "versions": {"jax": jax.__version__, "python": platform.python_version()},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(wall, 1), "total_steps": int(rows[-1]["step"]),
        "eval_returns": evals, "first_step_with_eval_1000": first_max,
        "load_average_before": load_before, "note": args.note,
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(record, f, indent=2)
    print(f"quick start: {wall:.1f} s wall, eval returns {[round(r) for _, r in evals]}")


if __name__ == "__main__":
    main()
