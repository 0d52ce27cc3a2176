"""Observation normalisation by running statistics (SimBa's RSNorm: Lee et al. 2025, "SimBa:
Simplicity Bias for Scaling Up Parameters in Deep RL", arXiv 2410.09754).

    stats = init(obs_size)
    stats = update(stats, obs_batch)       # [..., obs]: every leading axis is a batch axis
    x = normalize(stats, obs)               # (obs - mean) / sqrt(var + eps)

The merge is exact (Chan, Golub & LeVeque 1979, parallel variance): after any sequence of
updates, mean and var are those of all observations seen plus one pseudo-observation of weight
`initial_count` at (mean 0, var 1), as Gymnasium's RunningMeanStd that SimBa's code uses.
`var` is the population (biased) variance. Statistics are float32 by default; float32's 24-bit
mantissa makes `count` inexact beyond ~1.7e7 observations, which only perturbs the merge weights
at the 1e-7 level.

State is one pytree, so `update` vmaps over a leading seeds axis.
"""

import math

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class RunningStats:
    mean: jax.Array  # [*obs]
    var: jax.Array  # [*obs], population variance
    count: jax.Array  # [], observations merged so far plus the initial pseudo-count


def init(size: int | tuple[int, ...], initial_count: float = 1e-4,
         dtype: jnp.dtype = jnp.float32) -> RunningStats:
    """mean 0, var 1, count `initial_count` (1e-4: Gymnasium's RunningMeanStd, used by SimBa)."""
    shape = (size,) if isinstance(size, int) else tuple(size)
    return RunningStats(mean=jnp.zeros(shape, dtype), var=jnp.ones(shape, dtype),
                        count=jnp.asarray(initial_count, dtype))


def update(stats: RunningStats, batch: jax.Array) -> RunningStats:
    """Merges a batch [..., *obs] into the running statistics (Chan et al. 1979).

    With n = batch size, delta = mean_B - mean, total = count + n:
        mean <- mean + delta n / total
        var  <- (var count + var_B n + delta^2 count n / total) / total
    """
    batch_axes = tuple(range(batch.ndim - stats.mean.ndim))
    x = batch.astype(stats.mean.dtype)
    n = jnp.asarray(math.prod(batch.shape[a] for a in batch_axes), stats.count.dtype)
    batch_mean = jnp.mean(x, axis=batch_axes)  # [*obs]
    batch_var = jnp.mean(jnp.square(x - batch_mean), axis=batch_axes)  # [*obs], two-pass
    delta = batch_mean - stats.mean
    total = stats.count + n
    mean = stats.mean + delta * (n / total)
    m2 = stats.var * stats.count + batch_var * n + jnp.square(delta) * (stats.count * n / total)
    return RunningStats(mean=mean, var=m2 / total, count=total)


def normalize(stats: RunningStats, obs: jax.Array, epsilon: float = 1e-8,
              clip: float | None = None, dtype: jnp.dtype | None = None) -> jax.Array:
    """(obs - mean) / sqrt(var + epsilon), optionally clipped to [-clip, clip].

    epsilon = 1e-8: SimBa's and Gymnasium's NormalizeObservation. SimBa does not clip, hence
    clip=None. Computed in the statistics' dtype; returned in `dtype` (default: obs's dtype if
    floating, else the statistics' dtype).
    """
    x = (obs.astype(stats.mean.dtype) - stats.mean) / jnp.sqrt(stats.var + epsilon)
    if clip is not None:
        x = jnp.clip(x, -clip, clip)
    if dtype is None:
        dtype = obs.dtype if jnp.issubdtype(obs.dtype, jnp.floating) else stats.mean.dtype
    return x.astype(dtype)


def apply(stats: RunningStats | None, obs: jax.Array) -> jax.Array:
    """`normalize`, or obs unchanged without statistics (normalisation off)."""
    return obs if stats is None else normalize(stats, obs)


def apply_to_batch(stats: RunningStats | None, batch):
    """A transition batch with obs and next_obs normalised (the replay stores them raw, so that
    changing statistics never corrupt old data)."""
    if stats is None:
        return batch
    return batch.replace(obs=normalize(stats, batch.obs), next_obs=normalize(stats, batch.next_obs))
