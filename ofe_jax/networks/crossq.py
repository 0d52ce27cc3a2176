"""CrossQ's networks (Bhatt et al. 2024, ICLR): MLPs with Batch Renormalization (batch_renorm.py)
on the input and after every hidden layer, as in the authors' code (sbx layout:
BRN(x) -> [Dense -> act -> BRN] x layers -> head).

`train` is a module attribute: a training-mode module normalises with the batch's statistics and
updates the running ones (apply with mutable=["batch_stats"]); an inference-mode module with the
same variables uses the running statistics.
"""

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ofe_jax.networks.batch_renorm import BatchRenorm
from ofe_jax.networks.mlp import activation_fn


@dataclasses.dataclass(frozen=True)
class RenormSpec:
    """BatchRenorm's settings (CrossQ's code: momentum 0.99, eps 1e-3, r_max 3, d_max 5, 100k
    warm-up calls of plain batch norm)."""

    momentum: float = 0.99
    epsilon: float = 1e-3
    r_max: float = 3.0
    d_max: float = 5.0
    warmup_steps: int = 100_000
    axis_name: str | None = None


class RenormMLP(nn.Module):
    """BRN(x), then per layer h = BRN(act(Dense(units)(x))); "mlp": x = h, "dense": x =
    concat(x, h) (DenseNet, OJK21). Output [..., units] or [..., in + layers * units]."""

    kind: str
    units: int
    layers: int
    activation: str
    train: bool
    renorm: RenormSpec
    dtype: Any = jnp.float32

    def _norm(self):
        r = self.renorm
        return BatchRenorm(use_running_average=not self.train, momentum=r.momentum,
                           epsilon=r.epsilon, r_max=r.r_max, d_max=r.d_max,
                           warmup_steps=r.warmup_steps, axis_name=r.axis_name, dtype=self.dtype)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = self._norm()(x)
        for _ in range(self.layers):
            h = self._norm()(activation_fn(self.activation)(nn.Dense(self.units,
                                                                     dtype=self.dtype)(x)))
            x = jnp.concatenate([x, h], axis=-1) if self.kind == "dense" else h
        return x


class _RenormQ(nn.Module):
    kind: str
    units: int
    layers: int
    activation: str
    train: bool
    renorm: RenormSpec
    outputs: int
    dtype: Any

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = RenormMLP(self.kind, self.units, self.layers, self.activation, self.train,
                      self.renorm, self.dtype)(x)
        out = nn.Dense(self.outputs, dtype=self.dtype)(h).astype(jnp.float32)
        return out[..., 0] if self.outputs == 1 else out


class RenormCritic(nn.Module):
    """`num_critics` BatchRenorm Q networks (an ensemble axis on params and batch_stats).
    Input [..., F]; output [num_critics, ...] (or [num_critics, ..., outputs])."""

    kind: str
    units: int
    layers: int
    activation: str
    train: bool
    renorm: RenormSpec
    num_critics: int = 2
    outputs: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        ensemble = nn.vmap(_RenormQ, variable_axes={"params": 0, "batch_stats": 0},
                           split_rngs={"params": True}, in_axes=None, out_axes=0,
                           axis_size=self.num_critics)
        return ensemble(self.kind, self.units, self.layers, self.activation, self.train,
                        self.renorm, self.outputs, self.dtype)(x)


class RenormTanhGaussianActor(nn.Module):
    """SAC/CrossQ policy on a BatchRenorm torso: (mean, log_std) of the pre-tanh Gaussian."""

    action_size: int
    kind: str
    units: int
    layers: int
    activation: str
    train: bool
    renorm: RenormSpec
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = RenormMLP(self.kind, self.units, self.layers, self.activation, self.train,
                      self.renorm, self.dtype)(x)
        mean = nn.Dense(self.action_size, dtype=self.dtype)(h).astype(jnp.float32)
        log_std = nn.Dense(self.action_size, dtype=self.dtype)(h).astype(jnp.float32)
        return mean, jnp.clip(log_std, self.log_std_min, self.log_std_max)
