"""SimBa residual torso (Lee et al. 2025, "SimBa: Simplicity Bias for Scaling Up Parameters in
Deep RL", ICLR; arXiv 2410.09754).

    h_0     = Dense(units)(x)                                   # linear embedding, orthogonal(1)
    h_{l+1} = h_l + Dense(units)(act(Dense(4 units)(LN(h_l))))  # pre-LN inverted bottleneck
    out     = LN(h_blocks)                                       # post-LayerNorm

Observation normalisation (RSNorm) is not part of the torso: it lives with the running statistics
in `ofe_jax/training/normalizer.py`. The paper's SAC sizes: critic 2 blocks x 512 units, actor
1 block x 128 units (official code, SonyResearch/simba `configs/agent/sac_simba.yaml`).

`dtype` is the computation dtype (e.g. jnp.bfloat16); parameters stay in `param_dtype` (float32).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ofe_jax.networks.mlp import activation_fn


class SimbaBlock(nn.Module):
    """x + Dense(units)(act(Dense(expansion * units)(LayerNorm(x)))). Output: [..., units]."""

    units: int
    activation: str = "relu"
    expansion: int = 4  # inverted bottleneck, 4x wider (Lee et al. 2025; official ResidualBlock)
    layer_norm_epsilon: float = 1e-6  # flax's default, which the official code uses
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        # He-normal kernels and zero biases for both Denses, as in the official ResidualBlock.
        dense = lambda features, name: nn.Dense(
            features, kernel_init=nn.initializers.he_normal(), bias_init=nn.initializers.zeros,
            dtype=self.dtype, param_dtype=self.param_dtype, name=name)
        h = nn.LayerNorm(epsilon=self.layer_norm_epsilon, dtype=self.dtype,
                         param_dtype=self.param_dtype, name="norm")(x)
        h = activation_fn(self.activation)(dense(self.expansion * self.units, "expand")(h))
        return x + dense(self.units, "project")(h)  # [..., units]


class SimbaTorso(nn.Module):
    """Embedding -> `blocks` x SimbaBlock -> LayerNorm. Input [..., in], output [..., units]."""

    units: int
    blocks: int
    activation: str = "relu"
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32
    expansion: int = 4  # Lee et al. 2025: hidden width of each block is 4 * units
    embedding_init_scale: float = 1.0  # orthogonal(1) embedding (official SACEncoder)
    layer_norm_epsilon: float = 1e-6  # flax's default, which the official code uses

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.Dense(self.units, kernel_init=nn.initializers.orthogonal(self.embedding_init_scale),
                     bias_init=nn.initializers.zeros, dtype=self.dtype,
                     param_dtype=self.param_dtype, name="embedding")(x)  # [..., units]
        for i in range(self.blocks):
            h = SimbaBlock(self.units, self.activation, self.expansion, self.layer_norm_epsilon,
                           self.dtype, self.param_dtype, name=f"block_{i}")(h)
        return nn.LayerNorm(epsilon=self.layer_norm_epsilon, dtype=self.dtype,
                            param_dtype=self.param_dtype, name="output_norm")(h)  # [..., units]
