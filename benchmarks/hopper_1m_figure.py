"""The README's figure: the committed Hopper-v5 SAC 1M-step run's evaluation curve beside the
published SAC curve (SimbaV2 repository, results/baseline/sac.csv, Hopper-v4, 10 seeds).

    python -m benchmarks.hopper_1m_figure --simbav2-csv PATH/TO/SimbaV2/results/baseline/sac.csv

Writes benchmarks/results/hopper_sac_1m_cpu/simbav2_sac_hopper_v4.csv (the reference rows used:
Hopper-v4, env steps <= 1M, every seed) when --simbav2-csv is given, then the figure
benchmarks/results/hopper_sac_1m_cpu.png from that file and the run's metrics.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
RUN = os.path.join(RESULTS, "hopper_sac_1m_cpu")
REFERENCE = os.path.join(RUN, "simbav2_sac_hopper_v4.csv")
SOURCE = ("dojeon-ai/SimbaV2@14fafb2 results/baseline/sac.csv (Gymnasium Hopper-v4, "
          "10 seeds)")


def extract_reference(path: str) -> None:
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["env_name"] == "Hopper-v4"
                and r["metric"] == "avg_return" and float(r["env_step"]) <= 1_010_000]
    with open(REFERENCE, "w", newline="") as f:
        f.write(f"# {SOURCE}: the rows with env_step <= 1M\n")
        w = csv.writer(f)
        w.writerow(["seed", "env_step", "avg_return"])
        for r in rows:
            w.writerow([r["seed"], int(float(r["env_step"])), r["value"]])


def reference_curve() -> tuple[list[float], list[float], list[float], list[float]]:
    by_step: dict[float, list[float]] = {}
    with open(REFERENCE, newline="") as f:
        for r in csv.DictReader(line for line in f if not line.startswith("#")):
            by_step.setdefault(float(r["env_step"]), []).append(float(r["avg_return"]))
    steps = sorted(by_step)
    return (steps, [statistics.mean(by_step[s]) for s in steps],
            [min(by_step[s]) for s in steps], [max(by_step[s]) for s in steps])


def run_curve() -> tuple[list[int], list[float]]:
    with open(os.path.join(RUN, "metrics.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["eval_return"]]
    return [int(r["step"]) for r in rows], [float(r["eval_return"]) for r in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simbav2-csv", help="SimbaV2's results/baseline/sac.csv")
    args = parser.parse_args(argv)
    if args.simbav2_csv:
        extract_reference(args.simbav2_csv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, returns = run_curve()
    ref_steps, mean, low, high = reference_curve()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.fill_between(ref_steps, low, high, color="tab:gray", alpha=0.25,
                    label="SimbaV2 repo SAC, Hopper-v4: seed range")
    ax.plot(ref_steps, mean, color="tab:gray", label="SimbaV2 repo SAC, Hopper-v4: mean of 10")
    ax.plot(steps, returns, color="tab:blue", label="ofe_jax SAC 256x2, Hopper-v5, 1 seed (CPU)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("deterministic evaluation return")
    ax.set_xlim(0, 1_000_000)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("SAC on Hopper, 1M env steps")
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, "hopper_sac_1m_cpu.png"), dpi=110)
    print(f"wrote {os.path.join(RESULTS, 'hopper_sac_1m_cpu.png')}")


if __name__ == "__main__":
    main()
