"""The critic's side of every algorithm: how its outputs become Q values, its loss (mean
squared TD error, or HL-Gauss classification), the per-sample |TD error|, and one step.

    head = make_value_head(config)                  # from agent.critic_loss / agent.hl_gauss
    critic = EnsembleCritic(..., outputs=head.outputs)
    q = head.q(critic.apply(...))                   # [C, B] Q values
    state, loss, q = critic_step(critic, head, tx, state, features, target, weight)

HL-Gauss (Farebrother et al. 2024, "Stop Regressing"): the critic outputs `num_bins` logits per
ensemble member; Q is the softmax-weighted mean of the bin centres (distributional.expectation);
the loss is the cross-entropy against the Gaussian-smoothed projection of the scalar TD target
(distributional.hl_gauss_project, sigma = sigma_ratio x bin width, targets clipped to the
support), summed over the ensemble and averaged (optionally weighted) over the batch.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from ofe_jax.agents import distributional


@dataclasses.dataclass(frozen=True)
class ValueHead:
    """Q values and the loss from the critic's outputs ([C, B] or [C, B, num_bins])."""

    kind: str  # "mse" | "hl_gauss"
    edges: tuple[float, ...] = ()  # HL-Gauss support: bin edges [num_bins + 1]
    sigma: float = 0.0

    @property
    def outputs(self) -> int:
        return 1 if self.kind == "mse" else len(self.edges) - 1

    def _support(self) -> tuple[jax.Array, jax.Array]:
        edges = jnp.asarray(self.edges, jnp.float32)
        return edges, 0.5 * (edges[:-1] + edges[1:])

    def q(self, out: jax.Array) -> jax.Array:
        """[C, B] Q values."""
        if self.kind == "mse":
            return out
        return distributional.expectation(out, self._support()[1])

    def loss(self, out: jax.Array, target: jax.Array,
             weight: jax.Array | None = None) -> jax.Array:
        """Sum over the ensemble of the batch mean (weighted by `weight` [B]) of the per-sample
        loss: squared TD error, or cross-entropy to the projected target. target: [B]."""
        if self.kind == "mse":
            per_sample = jnp.square(out - target[None])  # [C, B]
        else:
            probs = distributional.hl_gauss_project(target, self._support()[0], self.sigma)
            per_sample = distributional.cross_entropy(out, jax.lax.stop_gradient(probs)[None])
        if weight is not None:
            per_sample = per_sample * weight[None]
        return jnp.sum(jnp.mean(per_sample, axis=-1))


def make_value_head(config: ml_collections.ConfigDict) -> ValueHead:
    if config.critic_loss == "mse":
        return ValueHead("mse")
    h = config.hl_gauss
    edges = np.linspace(h.min_value, h.max_value, h.num_bins + 1)
    return ValueHead("hl_gauss", tuple(float(e) for e in edges),
                     float(h.sigma_ratio * (h.max_value - h.min_value) / h.num_bins))


def critic_loss(q: jax.Array, target: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """Sum over the ensemble of the mean (weighted, if `weight` [B] is given) squared TD error.
    q: [C, B], target: [B]."""
    return ValueHead("mse").loss(q, target, weight)


def td_abs(q: jax.Array, target: jax.Array) -> jax.Array:
    """[B] per-sample |TD error|, the mean over the critics of |q - target|; q [C, B]."""
    return jnp.mean(jnp.abs(q - target[None]), axis=0)


def critic_step(critic, head: ValueHead, tx: optax.GradientTransformation, state,
                features: jax.Array, target: jax.Array, weight: jax.Array | None,
                axis_name: str | None = None) -> tuple[Any, jax.Array, jax.Array]:
    """One step of the critic ensemble on `features` [B, F] towards `target` [B]; returns
    (state with new critic params and optimiser, loss, q [C, B] before the step)."""
    from ofe_jax.agents.common import apply_gradients

    def loss_fn(params):
        out = critic.apply({"params": params}, features)  # [C, B(, bins)]
        return head.loss(out, target, weight), head.q(out)

    (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.critic_params)
    params, opt_state = apply_gradients(tx, state.critic_params, state.critic_opt_state, grads,
                                        axis_name)
    return state.replace(critic_params=params, critic_opt_state=opt_state), loss, q
