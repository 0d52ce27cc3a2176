"""CrossQ's networks (Bhatt et al. 2024, ICLR): MLPs with Batch Renormalization (batch_renorm.py)
on the input and after every hidden layer, as in the authors' code (sbx layout:
BRN(x) -> [Dense -> act -> BRN] x layers -> head).

`train` (in the `RenormTorso` spec) makes a module normalise with the batch's statistics and
update the running ones (apply with mutable=["batch_stats"]); an inference-mode module with the
same variables uses the running statistics.
"""

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ofe_jax.networks.batch_renorm import BatchRenorm
from ofe_jax.networks.heads import gaussian_head, q_head
from ofe_jax.networks.mlp import activation_fn


@dataclasses.dataclass(frozen=True)
class RenormTorso:
    """A BatchRenorm MLP: `kind` "mlp" | "dense" (DenseNet, OJK21), `layers` x `units`, the
    hidden activation, training or inference mode, and BatchRenorm's settings (CrossQ's code:
    momentum 0.99, eps 1e-3, r_max 3, d_max 5, 100k warm-up calls of plain batch norm)."""

    kind: str = "mlp"
    units: int = 256
    layers: int = 2
    activation: str = "relu"
    train: bool = False
    momentum: float = 0.99
    epsilon: float = 1e-3
    r_max: float = 3.0
    d_max: float = 5.0
    warmup_steps: int = 100_000
    axis_name: str | None = None

    def mode(self, train: bool) -> "RenormTorso":
        return dataclasses.replace(self, train=train)


class RenormMLP(nn.Module):
    """BRN(x), then per layer h = BRN(act(Dense(units)(x))); "mlp": x = h, "dense": x =
    concat(x, h). Output [..., units] or [..., in + layers * units]."""

    torso: RenormTorso
    dtype: Any = jnp.float32

    def _norm(self):
        t = self.torso
        return BatchRenorm(use_running_average=not t.train, momentum=t.momentum,
                           epsilon=t.epsilon, r_max=t.r_max, d_max=t.d_max,
                           warmup_steps=t.warmup_steps, axis_name=t.axis_name, dtype=self.dtype)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        t = self.torso
        x = self._norm()(x)
        for _ in range(t.layers):
            h = self._norm()(activation_fn(t.activation)(nn.Dense(t.units, dtype=self.dtype)(x)))
            x = jnp.concatenate([x, h], axis=-1) if t.kind == "dense" else h
        return x


class _RenormQ(nn.Module):
    torso: RenormTorso
    outputs: int
    dtype: Any

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return q_head(RenormMLP(self.torso, self.dtype)(x), self.outputs, self.dtype)


class RenormCritic(nn.Module):
    """`num_critics` BatchRenorm Q networks (an ensemble axis on params and batch_stats).
    Input [..., F]; output [num_critics, ...] (or [num_critics, ..., outputs])."""

    torso: RenormTorso
    num_critics: int = 2
    outputs: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        ensemble = nn.vmap(_RenormQ, variable_axes={"params": 0, "batch_stats": 0},
                           split_rngs={"params": True}, in_axes=None, out_axes=0,
                           axis_size=self.num_critics)
        return ensemble(self.torso, self.outputs, self.dtype)(x)


class RenormTanhGaussianActor(nn.Module):
    """SAC/CrossQ policy on a BatchRenorm torso: (mean, log_std) of the pre-tanh Gaussian."""

    action_size: int
    torso: RenormTorso
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        return gaussian_head(RenormMLP(self.torso, self.dtype)(x), self.action_size,
                             self.log_std_min, self.log_std_max, self.dtype)
