"""Post-2021 modules: SimBa torso."""

import flax
import jax
import jax.numpy as jnp
import numpy as np

from ofe_jax.networks.simba import SimbaTorso

KEY = jax.random.PRNGKey(0)


def _layer_norm(h, eps=1e-6):
    """Unit-scale, zero-offset LayerNorm over the last axis, in numpy."""
    h = np.asarray(h, np.float64)
    return (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + eps)


# ----------------------------------------------------------------------------------- SimBa


def test_simba_shapes_and_initialisation():
    torso = SimbaTorso(units=16, blocks=2)
    x = jax.random.normal(KEY, (5, 7))
    variables = torso.init(KEY, x)
    assert torso.apply(variables, x).shape == (5, 16)
    p = variables["params"]
    assert set(p) == {"embedding", "block_0", "block_1", "output_norm"}
    assert p["block_0"]["expand"]["kernel"].shape == (16, 64)  # inverted bottleneck, 4x
    assert p["block_0"]["project"]["kernel"].shape == (64, 16)
    # Orthogonal(1) embedding: a 7 x 16 kernel has orthonormal rows.
    kernel = np.asarray(p["embedding"]["kernel"])
    np.testing.assert_allclose(kernel @ kernel.T, np.eye(7), atol=1e-5)
    for block in ("block_0", "block_1"):
        for dense in ("expand", "project"):
            np.testing.assert_array_equal(p[block][dense]["bias"], 0.0)


def test_simba_without_blocks_is_layer_norm_of_the_embedding():
    torso = SimbaTorso(units=8, blocks=0)
    x = jax.random.normal(KEY, (3, 5))
    variables = torso.init(KEY, x)
    emb = variables["params"]["embedding"]
    expected = _layer_norm(np.asarray(x) @ np.asarray(emb["kernel"]) + np.asarray(emb["bias"]))
    np.testing.assert_allclose(torso.apply(variables, x), expected, rtol=1e-5, atol=1e-5)


def test_simba_block_is_identity_when_its_last_dense_is_zero():
    torso = SimbaTorso(units=8, blocks=2)
    x = jax.random.normal(KEY, (3, 5))
    params = flax.core.unfreeze(torso.init(KEY, x))["params"]
    emb = params["embedding"]
    embedding = np.asarray(x) @ np.asarray(emb["kernel"]) + np.asarray(emb["bias"])
    embedding_norm = _layer_norm(embedding)
    # At initialisation the residual branches do contribute ...
    assert np.abs(np.asarray(torso.apply({"params": params}, x)) - embedding_norm).max() > 1e-2
    # ... and with each block's projection zeroed, they add nothing.
    for block in ("block_0", "block_1"):
        params[block]["project"]["kernel"] = jnp.zeros_like(params[block]["project"]["kernel"])
        params[block]["project"]["bias"] = jnp.zeros_like(params[block]["project"]["bias"])
    np.testing.assert_allclose(torso.apply({"params": params}, x), embedding_norm,
                               rtol=1e-5, atol=1e-5)


def test_simba_bfloat16_computation_keeps_float32_params():
    x = jax.random.normal(KEY, (4, 6))
    torso32 = SimbaTorso(units=16, blocks=1)
    torso16 = SimbaTorso(units=16, blocks=1, dtype=jnp.bfloat16)
    variables = torso16.init(KEY, x)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(variables))
    out = jax.jit(torso16.apply)(variables, x)
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(out, np.float32), torso32.apply(variables, x), atol=0.1)
