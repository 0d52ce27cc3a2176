"""Plain and DenseNet-connected MLP torsos.

`DenseMLP` is the actor/critic body of Ota, Jha & Kanezaki (2021, "OJK21"): every hidden layer's
output is concatenated to that layer's input, so layer i sees the raw input and all earlier
features, and the torso's output has `in_dim + layers * units` features.
"""

from collections.abc import Callable

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


def _hidden(x: jax.Array, units: int, activation: str, layer_norm: bool) -> jax.Array:
    """act([LayerNorm](Dense(units)(x))), inside the calling module's compact scope."""
    h = nn.Dense(units)(x)
    if layer_norm:
        h = nn.LayerNorm()(h)
    return activation_fn(activation)(h)


class MLP(nn.Module):
    """`layers` x Dense(units) -> [LayerNorm] -> activation. Output: [..., units]."""

    units: int
    layers: int
    activation: str = "relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.layers):
            x = _hidden(x, self.units, self.activation, self.layer_norm)
        return x


class DenseMLP(nn.Module):
    """DenseNet-connected MLP (OJK21): x <- concat(x, act(Dense(units)(x))) per layer.

    Output: [..., in_dim + layers * units].
    """

    units: int
    layers: int
    activation: str = "relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.layers):
            x = jnp.concatenate([x, _hidden(x, self.units, self.activation, self.layer_norm)],
                                axis=-1)
        return x


def make_torso(kind: str, units: int, layers: int, activation: str = "relu",
               layer_norm: bool = False) -> nn.Module:
    """Builds the torso named by `kind` ("mlp" | "dense")."""
    if kind == "mlp":
        return MLP(units, layers, activation, layer_norm)
    if kind == "dense":
        return DenseMLP(units, layers, activation, layer_norm)
    raise ValueError(f"network.kind must be one of {list(TORSO_KINDS)}, got {kind!r}")
