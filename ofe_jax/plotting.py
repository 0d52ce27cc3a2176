"""Learning curves from a run's metrics.csv: mean and 95% CI across seeds of the evaluation
return against env steps."""

import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}


def _t_quantile(dof: int) -> float:
    """Two-sided 95% Student-t quantile (1.96 for large samples)."""
    keys = [k for k in T_975 if k <= dof]
    return T_975[max(keys)] if dof <= 30 else 1.96


def load_eval_curves(workdir: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps [T], eval returns [T, seeds]) from metrics.csv (rows that have an eval)."""
    path = os.path.join(workdir, "metrics.csv")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no metrics.csv in {workdir!r}")
    table: dict[int, dict[int, float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["eval_return"]:
                table.setdefault(int(row["step"]), {})[int(row["seed"])] = float(
                    row["eval_return"])
    if not table:
        raise ValueError(f"metrics.csv in {workdir!r} holds no evaluation yet")
    steps = np.array(sorted(table))
    seeds = sorted({s for v in table.values() for s in v})
    returns = np.array([[table[t].get(s, np.nan) for s in seeds] for t in steps])
    return steps, returns


def mean_and_ci(returns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds and the half-width of its 95% t-interval ([T, seeds] -> [T], [T])."""
    n = np.sum(np.isfinite(returns), axis=1)
    mean = np.nanmean(returns, axis=1)
    std = np.nanstd(returns, axis=1, ddof=1) if returns.shape[1] > 1 else np.zeros(len(mean))
    half = np.array([_t_quantile(k - 1) if k > 1 else 0.0 for k in n]) * std / np.sqrt(
        np.maximum(n, 1))
    return mean, np.nan_to_num(half)


def learning_curve(workdir: str, out: str | None = None, title: str | None = None) -> str:
    steps, returns = load_eval_curves(workdir)
    mean, half = mean_and_ci(returns)
    out = out or os.path.join(workdir, "learning_curve.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, mean, label=f"mean of {returns.shape[1]} seed(s)")
    ax.fill_between(steps, mean - half, mean + half, alpha=0.25, label="95% CI")
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(title or os.path.basename(os.path.abspath(workdir)))
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
