"""Statistics over seeds: IQM, percentile-bootstrap CI of the mean, t-interval, area under the
curve. Pure numpy/scipy. Every training run imports this module (it draws its learning curve at
the end), so it imports scipy.special (~0.3 s) and not scipy.stats (~1.3 s; measured in
benchmarks/results/test_compile_cuts_cpu.json); scipy.stats only for `iqm(..., "trim_mean")`.

IQM convention (default "fractional"): the mean of the middle 50% of the sorted sample, each of
the n sorted values weighted by how much of its 1/n slice of the quantile axis lies within
[0.25, 0.75] -- the interquartile mean as defined in Agarwal et al. (2021, "Deep RL at the Edge
of the Statistical Precipice"), well defined for any n. The rliable library's code computes
scipy.stats.trim_mean(x, 0.25) instead (drops floor(n/4) values at each end, no fractional
weights); both agree when n is a multiple of 4. `iqm(x, convention="trim_mean")` gives that one.
"""

import numpy as np
import scipy.special

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
IQM_CONVENTIONS = ("fractional", "trim_mean")


def iqm(values, convention: str = "fractional") -> float:
    """Interquartile mean of a 1-D sample (see the module docstring for the two conventions)."""
    x = np.sort(np.asarray(values, dtype=float).ravel())
    n = len(x)
    if n == 0:
        raise ValueError("IQM of an empty sample")
    if convention == "trim_mean":
        import scipy.stats

        return float(scipy.stats.trim_mean(x, 0.25))
    if convention != "fractional":
        raise ValueError(f"unknown IQM convention {convention!r}; use one of {IQM_CONVENTIONS}")
    lo = np.arange(n) / n
    weights = np.clip(np.minimum(lo + 1.0 / n, 0.75) - np.maximum(lo, 0.25), 0.0, None)
    return float(np.sum(weights * x) / np.sum(weights))


def bootstrap_ci(values, seed: int = BOOTSTRAP_SEED, resamples: int = BOOTSTRAP_RESAMPLES,
                 confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean: `resamples` resamples of the seeds
    with replacement, drawn with numpy's default_rng(seed); the (1 - confidence)/2 and
    (1 + confidence)/2 percentiles of the resampled means. One value gives (value, value)."""
    x = np.asarray(values, dtype=float).ravel()
    if len(x) == 0:
        raise ValueError("bootstrap CI of an empty sample")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    alpha = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(means, [alpha, 100.0 - alpha])
    return float(low), float(high)


def mean_and_ci(returns: np.ndarray,
                confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds and the half-width of its Student-t interval ([T, seeds] -> [T], [T]);
    NaN entries (a seed without that step) are left out; one seed gives a zero half-width."""
    n = np.sum(np.isfinite(returns), axis=1)
    mean = np.nanmean(returns, axis=1)
    std = (np.nanstd(returns, axis=1, ddof=1) if returns.shape[1] > 1
           else np.zeros(len(mean)))
    # the Student-t quantile, scipy.stats.t.ppf(q, k - 1), as scipy.special's inverse CDF
    quantile = np.array([scipy.special.stdtrit(k - 1, 0.5 + confidence / 2) if k > 1 else 0.0
                         for k in n])
    return mean, np.nan_to_num(quantile * std / np.sqrt(np.maximum(n, 1)))


def auc(steps, returns) -> float:
    """Mean evaluation return over the run: trapezoidal area under (steps, returns) divided by
    the step span. A single evaluation gives its return."""
    s = np.asarray(steps, dtype=float)
    r = np.asarray(returns, dtype=float)
    if len(s) == 0:
        raise ValueError("AUC of an empty curve")
    if len(s) == 1 or s[-1] == s[0]:
        return float(r[-1])
    area = np.sum((s[1:] - s[:-1]) * (r[1:] + r[:-1]) / 2.0)
    return float(area / (s[-1] - s[0]))


def summarize(values, iqm_convention: str = "fractional", seed: int = BOOTSTRAP_SEED,
              resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    low, high = bootstrap_ci(values, seed=seed, resamples=resamples)
    return {"mean": float(np.mean(values)), "iqm": iqm(values, iqm_convention),
            "ci95": [low, high]}
