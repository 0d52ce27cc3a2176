"""Flax linen modules for ofe_jax. No RL logic lives here."""

from ofe_jax.networks.heads import (
    DeterministicActor,
    EnsembleCritic,
    TanhGaussianActor,
    tanh_gaussian_mode,
    tanh_gaussian_sample,
)
from ofe_jax.networks.mlp import ACTIVATIONS, MLP, DenseMLP, make_torso
from ofe_jax.networks.ofenet import OFENet, ofenet_feature_sizes

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "DenseMLP",
    "make_torso",
    "OFENet",
    "ofenet_feature_sizes",
    "TanhGaussianActor",
    "DeterministicActor",
    "EnsembleCritic",
    "tanh_gaussian_sample",
    "tanh_gaussian_mode",
]
