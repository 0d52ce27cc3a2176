"""Actor and critic heads on top of a torso (`MLP`, `DenseMLP` or `SimbaTorso`).

Actions live in [-1, 1]^A; the caller rescales to the environment's bounds. `dtype` is the
computation dtype of the torso and heads; every head's output is float32 (losses are computed in
float32 whatever the computation dtype).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ofe_jax.networks.mlp import make_torso


class TanhGaussianActor(nn.Module):
    """SAC policy: returns (mean, log_std) of the pre-tanh Gaussian, log_std clipped."""

    action_size: int
    kind: str
    units: int
    layers: int
    activation: str = "relu"
    layer_norm: bool = False
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = make_torso(self.kind, self.units, self.layers, self.activation, self.layer_norm,
                       self.dtype)(x)
        return gaussian_head(h, self.action_size, self.log_std_min, self.log_std_max,
                             self.dtype)


def gaussian_head(h: jax.Array, action_size: int, log_std_min: float, log_std_max: float,
                  dtype: Any) -> tuple[jax.Array, jax.Array]:
    """(mean, clipped log_std) [..., A] each, float32, from features h (in a compact scope)."""
    mean = nn.Dense(action_size, dtype=dtype)(h).astype(jnp.float32)
    log_std = nn.Dense(action_size, dtype=dtype)(h).astype(jnp.float32)
    return mean, jnp.clip(log_std, log_std_min, log_std_max)


def q_head(h: jax.Array, outputs: int, dtype: Any) -> jax.Array:
    """Q [...] (outputs 1) or [..., outputs] logits, float32, from features h."""
    out = nn.Dense(outputs, dtype=dtype)(h).astype(jnp.float32)
    return out[..., 0] if outputs == 1 else out


class DeterministicActor(nn.Module):
    """TD3 policy: tanh(Dense(torso(x))) in [-1, 1]."""

    action_size: int
    kind: str
    units: int
    layers: int
    activation: str = "relu"
    layer_norm: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = make_torso(self.kind, self.units, self.layers, self.activation, self.layer_norm,
                       self.dtype)(x)
        return jnp.tanh(nn.Dense(self.action_size, dtype=self.dtype)(h).astype(jnp.float32))


class _QNetwork(nn.Module):
    kind: str
    units: int
    layers: int
    activation: str
    layer_norm: bool
    outputs: int
    dtype: Any

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = make_torso(self.kind, self.units, self.layers, self.activation, self.layer_norm,
                       self.dtype)(x)
        return q_head(h, self.outputs, self.dtype)


class EnsembleCritic(nn.Module):
    """`num_critics` independent Q networks over one input (an ensemble axis, not copies).

    Input: [..., F] state-action features (concat(obs, action) or OFENet's phi_oa).
    Output: [num_critics, ...] Q values, or [num_critics, ..., outputs] with outputs > 1 (e.g.
    the logits of a distributional critic).
    """

    kind: str
    units: int
    layers: int
    activation: str = "relu"
    layer_norm: bool = False
    num_critics: int = 2
    outputs: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        ensemble = nn.vmap(
            _QNetwork,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num_critics,
        )
        return ensemble(self.kind, self.units, self.layers, self.activation, self.layer_norm,
                        self.outputs, self.dtype)(x)


_LOG_2 = 0.6931471805599453


def tanh_gaussian_sample(mean: jax.Array, log_std: jax.Array, key: jax.Array,
                         noise: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Reparameterised a = tanh(mean + std * eps) and its log-density.

    log pi(a|s) = sum_i [log N(u_i; mean_i, std_i) - log(1 - tanh(u_i)^2)]  (Haarnoja et al. 2018,
    Appendix C, Eq. 21), with log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) for stability.
    `noise` (standard normal, shaped like mean) replaces the draw from `key` when given.
    Returns action [..., A] and log_prob [...].
    """
    eps = jax.random.normal(key, mean.shape, mean.dtype) if noise is None else noise
    u = mean + jnp.exp(log_std) * eps
    gaussian = -0.5 * eps**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    log_det = 2.0 * (_LOG_2 - u - jax.nn.softplus(-2.0 * u))
    return jnp.tanh(u), jnp.sum(gaussian - log_det, axis=-1)


def tanh_gaussian_mode(mean: jax.Array) -> jax.Array:
    """The deterministic (evaluation) action tanh(mean)."""
    return jnp.tanh(mean)
