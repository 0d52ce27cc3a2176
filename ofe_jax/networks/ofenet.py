"""OFENet: Online Feature Extractor Network (Ota et al., ICML 2020).

phi_o  = `layers` DenseNet blocks on the observation o.
phi_oa = `layers` DenseNet blocks on concat(phi_o(o), a).
Block: h = act(BN(Dense(growth)(x))); out = concat(x, h), with growth = total_units // layers
(the Dense has no bias: BatchNorm's offset makes it redundant).
A linear head on phi_oa predicts the next observation's first `target_dim` entries (the auxiliary
task; `target_dim` leaves out contact-force dimensions on Ant and Humanoid).

Feature sizes: |phi_o| = obs + growth * layers,  |phi_oa| = |phi_o| + action + growth * layers.
E.g. Hopper-v5 (11/3, 6 layers, 240 units): 251 and 494.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ofe_jax.networks.mlp import activation_fn


def ofenet_feature_sizes(observation_size: int, action_size: int, total_units: int,
                         layers: int) -> tuple[int, int]:
    """(|phi_o|, |phi_oa|) for the given sizes."""
    added = (total_units // layers) * layers
    obs_features = observation_size + added
    return obs_features, obs_features + action_size + added


class DenseBlock(nn.Module):
    """out = concat(x, act(BN(Dense(growth)(x))))."""

    growth: int
    activation: str
    momentum: float
    epsilon: float
    axis_name: str | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        # No bias: BatchNorm removes the mean, so a bias here has an exactly-zero gradient
        # (Adam would only amplify its rounding noise); BN's own offset plays its role.
        x = x.astype(self.dtype)
        h = nn.Dense(self.growth, use_bias=False, dtype=self.dtype)(x)
        h = nn.BatchNorm(use_running_average=not train, momentum=self.momentum,
                         epsilon=self.epsilon, axis_name=self.axis_name, dtype=self.dtype)(h)
        return jnp.concatenate([x, activation_fn(self.activation)(h)], axis=-1)


class OFENet(nn.Module):
    """Feature extractor with methods `phi_o`, `phi_oa` and `__call__` (next-state prediction).

    `train=True` normalises with batch statistics and updates `batch_stats` (the auxiliary
    update); `train=False` uses the running averages (what the RL networks see).
    """

    target_dim: int
    total_units: int = 240
    layers: int = 6
    activation: str = "swish"
    batch_norm_momentum: float = 0.99
    batch_norm_epsilon: float = 1e-3
    batch_norm_axis_name: str | None = None  # data-parallel axis: statistics over all devices
    dtype: Any = jnp.float32  # computation dtype; parameters and statistics stay float32

    def setup(self):
        growth = self.total_units // self.layers
        block = lambda: DenseBlock(growth, self.activation, self.batch_norm_momentum,
                                   self.batch_norm_epsilon, self.batch_norm_axis_name,
                                   self.dtype)
        self.obs_blocks = [block() for _ in range(self.layers)]
        self.obs_action_blocks = [block() for _ in range(self.layers)]
        self.head = nn.Dense(self.target_dim, dtype=self.dtype)

    def phi_o(self, obs: jax.Array, train: bool = False) -> jax.Array:
        x = obs  # [..., obs]
        for blk in self.obs_blocks:
            x = blk(x, train)
        return x  # [..., |phi_o|]

    def phi_oa(self, obs: jax.Array, action: jax.Array, train: bool = False) -> jax.Array:
        x = jnp.concatenate([self.phi_o(obs, train), action], axis=-1)
        for blk in self.obs_action_blocks:
            x = blk(x, train)
        return x  # [..., |phi_oa|]

    def __call__(self, obs: jax.Array, action: jax.Array, train: bool = False) -> jax.Array:
        return self.head(self.phi_oa(obs, action, train)).astype(jnp.float32)  # [..., target]
