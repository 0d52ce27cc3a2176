"""OFENet in front of the RL networks (Ota et al. 2020): the features they see, the auxiliary
(next-observation prediction) loss, and which part of the observation is predicted."""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from ofe_jax.networks import OFENet

Params = Any


@dataclasses.dataclass(frozen=True)
class Encoder:
    """The inputs of the RL networks: raw (obs, concat(obs, a)) or OFENet's (phi_o, phi_oa).

    `variables` are OFENet's ({"params", "batch_stats"}, None without OFENet). They are put
    behind stop_gradient (RL losses never change them) and BatchNorm is in inference mode; the
    action is NOT behind stop_gradient, so the actor's gradient flows through phi_oa with
    respect to the action.
    """

    ofenet: OFENet | None

    def obs(self, variables: dict | None, obs: jax.Array) -> jax.Array:
        if self.ofenet is None:
            return obs
        return self.ofenet.apply(jax.lax.stop_gradient(variables), obs, method=OFENet.phi_o)

    def obs_action(self, variables: dict | None, obs: jax.Array,
                   action: jax.Array) -> jax.Array:
        if self.ofenet is None:
            return jnp.concatenate([obs, action], axis=-1)
        return self.ofenet.apply(jax.lax.stop_gradient(variables), obs, action,
                                 method=OFENet.phi_oa)


def ofenet_target_dim(target_dim, observation_size: int, contact_force_size: int = 0) -> int:
    """How many leading observation entries OFENet predicts: "auto" = all but the trailing
    contact-force entries, -1 = all, an int = itself."""
    if target_dim == "auto":
        return observation_size - contact_force_size
    return observation_size if target_dim == -1 else int(target_dim)


def make_ofenet(config: ml_collections.ConfigDict, observation_size: int,
                axis_name: str | None = None, contact_force_size: int = 0,
                dtype: Any = jnp.float32) -> OFENet | None:
    if not config.ofenet.enabled:
        return None
    target_dim = ofenet_target_dim(config.ofenet.target_dim, observation_size,
                                   contact_force_size)
    return OFENet(target_dim=target_dim, total_units=config.ofenet.total_units,
                  layers=config.ofenet.layers, activation=config.ofenet.activation,
                  batch_norm_momentum=config.ofenet.batch_norm_momentum,
                  batch_norm_epsilon=config.ofenet.batch_norm_epsilon,
                  batch_norm_axis_name=axis_name, dtype=dtype)


def ofenet_loss(ofenet: OFENet, params: Params, batch_stats: Any,
                batch) -> tuple[jax.Array, Any]:
    """Auxiliary loss: MSE of the predicted next_obs[:target_dim] (BatchNorm in train mode).
    Returns (loss, updated batch_stats)."""
    pred, updates = ofenet.apply({"params": params, "batch_stats": batch_stats}, batch.obs,
                                 batch.action, train=True, mutable=["batch_stats"])
    target = batch.next_obs[..., : ofenet.target_dim]
    return jnp.mean(jnp.square(pred - target)), updates["batch_stats"]
