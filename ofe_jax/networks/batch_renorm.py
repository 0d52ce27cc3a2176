"""Batch Renormalization (Ioffe 2017, "Batch Renormalization: Towards Reducing Minibatch
Dependence in Batch-Normalized Models", arXiv 1702.03275) as used by CrossQ (Bhatt et al. 2024,
ICLR; the authors' code adityab/CrossQ and sbx).

Training mode (Algorithm 1 of Ioffe 2017), per feature:
    mu_B, var_B = batch mean and (biased) variance          gradients flow through both
    sigma_B = sqrt(var_B + eps),  sigma = sqrt(var + eps)    var: the running variance
    r = clip(sg(sigma_B / sigma), 1/r_max, r_max)
    d = clip(sg((mu_B - mu) / sigma), -d_max, d_max)         sg: stop_gradient
    x_hat = (x - mu_B) / sigma_B * r + d,   y = scale * x_hat + bias
    mu <- momentum mu + (1 - momentum) mu_B,  var <- momentum var + (1 - momentum) var_B
While fewer than `warmup_steps` training calls have been made, r = 1 and d = 0 (plain batch norm)
so that the running statistics settle first (CrossQ's code: 100k steps).
Evaluation mode: y = scale * (x - mu) / sigma + bias.

Two choices where the sources differ:
- Ioffe 2017's Algorithm 1 keeps a moving average of sigma_B; CrossQ's code (and flax's
  BatchNorm) average the variance var_B, as here.
- CrossQ's code folds r, d into a mean and variance for flax's normaliser, computing
  (x - mu_B + d sqrt(var_B) / r) / sqrt(var_B / r^2 + eps): eps sits in a slightly different
  place. This module uses the paper's x_hat above.

`batch_stats` holds mean, var (float32, [features]) and steps (int32, []: training calls so far,
not counted during `init`). Statistics are reduced in float32; the normalisation is applied in
`dtype`. Features are the last axis; every other axis is a batch axis.
"""

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


class BatchRenorm(nn.Module):
    """Batch renormalisation over all axes but the last. Output: same shape as x, in `dtype`."""

    use_running_average: bool
    momentum: float = 0.99  # CrossQ (Bhatt et al. 2024) BatchNorm/BRN momentum
    epsilon: float = 1e-3  # authors' code (as Keras); flax's BatchNorm default is 1e-5
    r_max: float = 3.0  # authors' code (adityab/CrossQ, sbx)
    d_max: float = 5.0  # authors' code (adityab/CrossQ, sbx)
    warmup_steps: int = 100_000  # authors' code: plain batch norm for the first 100k calls
    axis_name: str | None = None  # data-parallel axis: batch statistics over all its members
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        features = x.shape[-1]
        batch_axes = tuple(range(x.ndim - 1))
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,), jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, (features,), jnp.float32)
        steps = self.variable("batch_stats", "steps", jnp.zeros, (), jnp.int32)
        scale = self.param("scale", nn.initializers.ones, (features,), self.param_dtype)
        bias = self.param("bias", nn.initializers.zeros, (features,), self.param_dtype)
        scale, bias = scale.astype(jnp.float32), bias.astype(jnp.float32)

        sigma = jnp.sqrt(ra_var.value + self.epsilon)  # [features]
        if self.use_running_average:
            mul, add, centre = scale / sigma, bias, ra_mean.value
        else:
            x32 = x.astype(jnp.float32)
            # Like flax's BatchNorm, no collective during init (the axis is not bound there).
            axis_name = None if self.is_initializing() else self.axis_name
            mean_b = _mean(x32, batch_axes, axis_name)  # [features]
            var_b = _mean(jnp.square(x32 - mean_b), batch_axes, axis_name)  # [features], biased
            sigma_b = jnp.sqrt(var_b + self.epsilon)
            r = jnp.clip(jax.lax.stop_gradient(sigma_b / sigma), 1.0 / self.r_max, self.r_max)
            d = jnp.clip(jax.lax.stop_gradient((mean_b - ra_mean.value) / sigma),
                         -self.d_max, self.d_max)
            warmed_up = steps.value >= self.warmup_steps
            r = jnp.where(warmed_up, r, 1.0)
            d = jnp.where(warmed_up, d, 0.0)
            # y = scale ((x - mu_B) r / sigma_B + d) + bias
            mul, add, centre = scale * r / sigma_b, bias + scale * d, mean_b
            if not self.is_initializing():
                ra_mean.value = self.momentum * ra_mean.value + (1.0 - self.momentum) * mean_b
                ra_var.value = self.momentum * ra_var.value + (1.0 - self.momentum) * var_b
                steps.value = steps.value + 1

        dt = self.dtype
        return (x.astype(dt) - centre.astype(dt)) * mul.astype(dt) + add.astype(dt)


def _mean(x: jax.Array, axes: tuple[int, ...], axis_name: str | None) -> jax.Array:
    """Mean over `axes`, then over the named axis (equal shard sizes assumed, as flax does)."""
    m = jnp.mean(x, axis=axes)
    return m if axis_name is None else jax.lax.pmean(m, axis_name)


def joint_forward(apply_fn: Callable[[Any], Any], a: Any, b: Any, *, axis: int = 0,
                  out_axis: int = 0, has_aux: bool = False) -> Any:
    """One training-mode forward of concat(a, b), so batch statistics cover both halves.

    CrossQ (Bhatt et al. 2024) evaluates Q(s, a) and Q(s', a') in a single call so that
    the BatchNorm statistics are those of the joint batch rather than of either half.
    a, b: arrays or matching pytrees (e.g. (obs, action) and (next_obs, next_action)), joined
    leaf-wise along `axis`. apply_fn(joint) returns outputs whose leaves carry the joint batch on
    `out_axis` (1 for an ensemble critic's [num_critics, batch]), or, with has_aux, a pair
    (outputs, aux) such as flax's (y, mutated_variables); aux is passed through unsplit.
    Returns (out_a, out_b), or ((out_a, out_b), aux) with has_aux.
    """
    size_a = jax.tree_util.tree_leaves(a)[0].shape[axis]
    joint = jax.tree_util.tree_map(lambda u, v: jnp.concatenate([u, v], axis=axis), a, b)
    result = apply_fn(joint)
    out, aux = result if has_aux else (result, None)
    out_a = jax.tree_util.tree_map(lambda y: _slice(y, 0, size_a, out_axis), out)
    out_b = jax.tree_util.tree_map(lambda y: _slice(y, size_a, None, out_axis), out)
    return ((out_a, out_b), aux) if has_aux else (out_a, out_b)


def _slice(y: jax.Array, start: int, stop: int | None, axis: int) -> jax.Array:
    index = [slice(None)] * y.ndim
    index[axis] = slice(start, stop)
    return y[tuple(index)]
