"""HL-Gauss: value regression as classification over a fixed histogram (Farebrother et al. 2024,
"Stop Regressing: Training Value Functions via Classification for Scalable Deep RL",
arXiv 2403.03950; the histogram loss of Imani & White 2018).

A scalar target y becomes the probabilities that Normal(y, sigma^2), truncated to [min, max],
assigns to each of m equal bins; the critic outputs m logits, is trained with cross-entropy
against those probabilities, and its value estimate is the softmax-weighted mean of bin centres.

    edges, centres = support(101, min_value=-10.0, max_value=10.0)   # [m + 1], [m]
    loss = cross_entropy(logits, hl_gauss_project(td_target, edges))  # [B]
    q = expectation(logits, centres)                                  # [B]

Pure functions of arrays: jit/vmap-able, and computed in the dtype of their inputs.
"""

import jax
import jax.numpy as jnp

# Farebrother et al. 2024 recommend sigma / bin width = 0.75 (their ablation over this ratio).
SIGMA_TO_BIN_WIDTH = 0.75


def support(num_bins: int = 101, *, min_value: float, max_value: float,
            dtype: jnp.dtype = jnp.float32) -> tuple[jax.Array, jax.Array]:
    """Equal bins on [min_value, max_value]: (edges [num_bins + 1], centres [num_bins]).

    Bin width is (max - min) / num_bins. num_bins = 101 is this library's choice of default, not
    a value taken from the paper; min/max depend on the task's returns, so they have no default.
    """
    if num_bins < 1 or not max_value > min_value:
        raise ValueError(f"need num_bins >= 1 and max_value > min_value, got {num_bins}, "
                         f"[{min_value}, {max_value}]")
    edges = jnp.linspace(min_value, max_value, num_bins + 1, dtype=dtype)
    centres = 0.5 * (edges[:-1] + edges[1:])
    return edges, centres


def hl_gauss_project(target: jax.Array, edges: jax.Array, sigma: float | None = None,
                     sigma_to_bin_width: float = SIGMA_TO_BIN_WIDTH) -> jax.Array:
    """HL-Gauss target probabilities: target [...], edges [m + 1] -> probs [..., m].

    p_i = [Phi((e_{i+1} - y) / sigma) - Phi((e_i - y) / sigma)]
          / [Phi((max - y) / sigma) - Phi((min - y) / sigma)],
    with Phi(z) = (1 + erf(z / sqrt 2)) / 2; the 1 cancels in each difference and the 1/2 in the
    ratio, so erf is used directly. sigma defaults to `sigma_to_bin_width` x bin width.

    y is first clamped to [min, max]. The paper's listing (its Appendix A) does not clamp; without
    it a target far outside the support makes the normaliser underflow to 0 (probs NaN); clamping
    is the usual practice. A target beyond an edge gets the probabilities of one at that edge.
    """
    min_value, max_value = edges[0], edges[-1]
    if sigma is None:
        sigma = sigma_to_bin_width * (max_value - min_value) / (edges.shape[-1] - 1)
    y = jnp.clip(target, min_value, max_value)[..., None]  # [..., 1]
    cdf = jax.scipy.special.erf((edges - y) / (jnp.sqrt(2.0).astype(edges.dtype) * sigma))
    # erf is not monotone at the last ulp where it saturates (float32: |z| > ~3.8), so a far bin's
    # difference can come out a tiny negative number; floor it at 0. The denominator
    # Phi(max) - Phi(min) telescopes to the sum of the bin masses, which keeps rows summing to 1.
    mass = jnp.maximum(cdf[..., 1:] - cdf[..., :-1], 0.0)  # [..., m]
    return mass / jnp.sum(mass, axis=-1, keepdims=True)


def expectation(logits: jax.Array, centres: jax.Array) -> jax.Array:
    """Value estimate sum_i softmax(logits)_i * centre_i: logits [..., m] -> [...]."""
    return jnp.sum(jax.nn.softmax(logits, axis=-1) * centres, axis=-1)


def cross_entropy(logits: jax.Array, target_probs: jax.Array) -> jax.Array:
    """-sum_i p_i log softmax(logits)_i: logits, target_probs [..., m] -> [...].

    Gradients flow into both arguments; stop the target's gradient at the call site (a TD target
    already is one).
    """
    return -jnp.sum(target_probs * jax.nn.log_softmax(logits, axis=-1), axis=-1)
