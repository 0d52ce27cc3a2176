"""Torsos: plain and DenseNet-connected MLPs, and SimBa's residual blocks (simba.py).

`DenseMLP` is the actor/critic body of Ota, Jha & Kanezaki (2021, "OJK21"): every hidden layer's
output is concatenated to that layer's input, so layer i sees the raw input and all earlier
features, and the torso's output has `in_dim + layers * units` features.

`dtype` is the computation dtype (matmuls and activations, e.g. jnp.bfloat16); parameters are
float32 whatever it is.
"""

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ofe_jax.config import choices

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "swish": nn.swish,
    "silu": nn.silu,
    "tanh": jnp.tanh,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "leaky_relu": nn.leaky_relu,
}

assert tuple(ACTIVATIONS) == choices.ACTIVATIONS, "networks.mlp and config.choices disagree"
TORSO_KINDS = choices.TORSO_KINDS


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def _hidden(x: jax.Array, units: int, activation: str, layer_norm: bool,
            dtype: Any = jnp.float32) -> jax.Array:
    """act([LayerNorm](Dense(units)(x))), inside the calling module's compact scope."""
    h = nn.Dense(units, dtype=dtype)(x)
    if layer_norm:
        h = nn.LayerNorm(dtype=dtype)(h)
    return activation_fn(activation)(h)


class MLP(nn.Module):
    """`layers` x Dense(units) -> [LayerNorm] -> activation. Output: [..., units]."""

    units: int
    layers: int
    activation: str = "relu"
    layer_norm: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.layers):
            x = _hidden(x, self.units, self.activation, self.layer_norm, self.dtype)
        return x


class DenseMLP(nn.Module):
    """DenseNet-connected MLP (OJK21): x <- concat(x, act(Dense(units)(x))) per layer.

    Output: [..., in_dim + layers * units].
    """

    units: int
    layers: int
    activation: str = "relu"
    layer_norm: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.astype(self.dtype)
        for _ in range(self.layers):
            h = _hidden(x, self.units, self.activation, self.layer_norm, self.dtype)
            x = jnp.concatenate([x, h], axis=-1)
        return x


def make_torso(kind: str, units: int, layers: int, activation: str = "relu",
               layer_norm: bool = False, dtype: Any = jnp.float32) -> nn.Module:
    """Builds the torso named by `kind` (one of TORSO_KINDS). For "simba", `layers` is the
    number of residual blocks (and `layer_norm` is implied: the blocks are pre-LayerNorm)."""
    if kind == "mlp":
        return MLP(units, layers, activation, layer_norm, dtype)
    if kind == "dense":
        return DenseMLP(units, layers, activation, layer_norm, dtype)
    if kind == "simba":
        from ofe_jax.networks.simba import SimbaTorso

        return SimbaTorso(units, layers, activation, dtype=dtype)
    raise ValueError(f"network.kind must be one of {list(TORSO_KINDS)}, got {kind!r}")
