"""Run logs in the workdir: metrics.csv (one row per member -- seed, or (grid point, seed) -- per
chunk; the grid point in the `grid` column, "" without a grid), TensorBoard events, and a
console progress bar."""

import csv
import os
import sys

import numpy as np
import tqdm

COLUMNS = ("step", "seed", "episode_return", "episode_length", "episodes", "eval_return",
           "critic_loss", "actor_loss", "alpha", "alpha_loss", "entropy", "q_mean",
           "ofenet_loss", "steps_per_s", "wall_s", "grid")


class RunLogger:
    def __init__(self, workdir: str, seeds: list[int], total_steps: int, start_step: int,
                 enabled: bool = True, points: list[dict] | None = None):
        """seeds: each member's seed; points: each member's grid point ({} / None: no grid).
        enabled=False (processes other than 0 of a multi-host run): every call is a no-op."""
        from ofe_jax.config.grid import point_label

        self.seeds = seeds
        self.labels = [point_label(p) for p in (points or [{}] * len(seeds))]
        self.enabled = enabled
        if not enabled:
            return
        self.csv_path = os.path.join(workdir, "metrics.csv")
        _truncate_after(self.csv_path, start_step)
        new = not os.path.exists(self.csv_path)
        self._file = open(self.csv_path, "a", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            self._csv.writeheader()
        from tensorboardX import SummaryWriter  # here: imports torch where installed (~2 s)

        self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
        self._bar = tqdm.tqdm(total=total_steps, initial=start_step, unit="step",
                              dynamic_ncols=True, smoothing=0.1)

    def write(self, step: int, metrics: dict, eval_return: np.ndarray | None,
              steps_per_s: float, wall_s: float) -> None:
        if not self.enabled:
            return
        for i, (seed, label) in enumerate(zip(self.seeds, self.labels)):
            row = {k: _scalar(v[i]) for k, v in metrics.items() if k in COLUMNS}
            row.update(step=step, seed=seed, steps_per_s=round(steps_per_s, 1),
                       wall_s=round(wall_s, 2), grid=label,
                       eval_return="" if eval_return is None else float(eval_return[i]))
            self._csv.writerow(row)
            tag = f"seed_{seed}" + (f"[{label}]" if label else "")
            for k, v in row.items():
                if k not in ("step", "seed", "grid") and v != "" and np.isfinite(v):
                    self._tb.add_scalar(f"{tag}/{k}", v, step)
        self._file.flush()
        mean = lambda x: float(np.nanmean(x)) if np.any(np.isfinite(x)) else float("nan")
        if eval_return is not None:
            self._tb.add_scalar("mean/eval_return", mean(eval_return), step)
        self._tb.add_scalar("mean/episode_return", mean(metrics["episode_return"]), step)
        self._tb.add_scalar("steps_per_s", steps_per_s, step)
        self._bar.set_postfix(steps_per_s=f"{steps_per_s:.0f}",
                              ret=f"{mean(metrics['episode_return']):.1f}",
                              **({"eval": f"{mean(eval_return):.1f}"}
                                 if eval_return is not None else {}))
        self._bar.update(step - self._bar.n)

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        self._bar.write(text, file=sys.stderr)

    def close(self) -> None:
        if not self.enabled:
            return
        self._bar.close()
        self._tb.close()
        self._file.close()


def _scalar(x):
    x = np.asarray(x)
    return x.item() if x.dtype.kind in "iub" else round(float(x), 6)


def _truncate_after(path: str, step: int) -> None:
    """On resume, drop rows logged after the checkpoint we resume from (they will be redone)."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(r for r in rows if int(r["step"]) <= step)
