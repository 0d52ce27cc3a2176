"""Figures: a run's learning curve, and one figure per task over many runs (the report's).
Mean over seeds and its 95% t-interval (`stats.mean_and_ci`)."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ofe_jax.analysis import runs, stats  # noqa: E402
from ofe_jax.errors import ReportError  # noqa: E402


def common_grid(curves: dict) -> tuple[np.ndarray, np.ndarray]:
    """Curves {seed: (steps, returns)} on the union of their eval steps ([T], [T, seeds]); a
    seed is interpolated linearly between its own evaluations and NaN outside them."""
    grid = np.unique(np.concatenate([steps for steps, _ in curves.values()]))
    columns = []
    for steps, returns in curves.values():
        col = np.interp(grid, steps, returns)
        col[(grid < steps[0]) | (grid > steps[-1])] = np.nan
        columns.append(col)
    return grid, np.stack(columns, axis=1)


def _finish(fig, ax, title: str, out: str) -> str:
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def learning_curve(workdir: str, out: str | None = None, title: str | None = None) -> str:
    """<workdir>/learning_curve.png (or `out`): the run's mean eval return and 95% CI (one
    line per grid point in a run with a hyperparameter grid)."""
    if not os.path.isfile(os.path.join(workdir, "metrics.csv")):
        raise ReportError(f"no metrics.csv in {workdir!r}")
    fig, ax = plt.subplots(figsize=(6, 4))
    for label in runs.grid_labels(workdir):
        steps, returns = common_grid(runs.eval_curves(workdir, label))
        mean, half = stats.mean_and_ci(returns)
        name = f"mean of {returns.shape[1]} seed(s)" + (f" [{label}]" if label else "")
        line, = ax.plot(steps, mean, label=name)
        ax.fill_between(steps, mean - half, mean + half, alpha=0.25, color=line.get_color(),
                        label="95% CI" if not label else None)
    return _finish(fig, ax, title or os.path.basename(os.path.abspath(workdir)),
                   out or os.path.join(workdir, "learning_curve.png"))


def task_figure(out: str, task: str, groups: list[dict]) -> str:
    """One task's groups (report.py): a line and band per (algorithm, variant)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    variants = list(dict.fromkeys(g["variant"] for g in groups))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = {"sac": "-", "td3": "--"}
    for g in groups:
        steps, returns = common_grid({s: (c["steps"], c["returns"])
                                      for s, c in g["seeds"].items()})
        mean, half = stats.mean_and_ci(returns)
        color = colors[variants.index(g["variant"]) % len(colors)]
        ax.plot(steps, mean, styles.get(g["algorithm"], ":"), color=color,
                label=f"{g['algorithm'].upper()} {g['variant']} (n={returns.shape[1]})")
        ax.fill_between(steps, mean - half, mean + half, color=color, alpha=0.2)
    return _finish(fig, ax, f"{task}: mean and 95% CI over seeds", out)
