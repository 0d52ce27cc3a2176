"""Shapes and defining properties of the Flax modules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ofe_jax.networks import (MLP, DenseMLP, EnsembleCritic, OFENet, TanhGaussianActor,
                              ofenet_feature_sizes, tanh_gaussian_sample)

KEY = jax.random.PRNGKey(0)


def test_mlp_and_dense_mlp_shapes():
    x = jnp.ones((5, 7))
    mlp = MLP(units=16, layers=3)
    assert mlp.apply(mlp.init(KEY, x), x).shape == (5, 16)
    dense = DenseMLP(units=16, layers=3, layer_norm=True)
    out = dense.apply(dense.init(KEY, x), x)
    assert out.shape == (5, 7 + 3 * 16)
    # DenseNet connection: the raw input is carried through unchanged in front.
    np.testing.assert_array_equal(out[:, :7], x)


def test_dense_mlp_layer_sees_all_earlier_features():
    dense = DenseMLP(units=4, layers=3)
    params = dense.init(KEY, jnp.ones((1, 5)))["params"]
    kernel_in = [params[f"Dense_{i}"]["kernel"].shape[0] for i in range(3)]
    assert kernel_in == [5, 9, 13]


@pytest.mark.parametrize("obs,act,layers,sizes", [(11, 3, 6, (251, 494)),
                                                  (348, 17, 8, (588, 845))])
def test_ofenet_output_sizes(obs, act, layers, sizes):
    """Hopper-v5 (11/3, 6 layers) and Humanoid-v5 (348/17, 8 layers), 240 units."""
    assert ofenet_feature_sizes(obs, act, 240, layers) == sizes
    target_dim = obs if obs == 11 else 270  # Humanoid: drop the 78 cfrc_ext dims.
    net = OFENet(target_dim=target_dim, total_units=240, layers=layers)
    o, a = jnp.ones((4, obs)), jnp.ones((4, act))
    variables = jax.jit(net.init)(KEY, o, a)  # one compile, not one per initialiser
    assert net.apply(variables, o, method=OFENet.phi_o).shape == (4, sizes[0])
    assert net.apply(variables, o, a, method=OFENet.phi_oa).shape == (4, sizes[1])
    assert net.apply(variables, o, a).shape == (4, target_dim)
    # BatchNorm in every block of phi_o and phi_oa.
    assert len(variables["batch_stats"]) == 2 * layers


def test_ofenet_train_mode_updates_batch_stats_with_momentum():
    net = OFENet(target_dim=3, total_units=8, layers=2)
    o = jax.random.normal(KEY, (64, 3)) * 3.0 + 1.0
    a = jnp.zeros((64, 1))
    variables = net.init(KEY, o, a)
    _, updates = net.apply(variables, o, a, train=True, mutable=["batch_stats"])
    first = "obs_blocks_0"
    old_mean = variables["batch_stats"][first]["BatchNorm_0"]["mean"]
    new_mean = updates["batch_stats"][first]["BatchNorm_0"]["mean"]
    assert "bias" not in variables["params"][first]["Dense_0"]  # redundant before BatchNorm
    h = o @ variables["params"][first]["Dense_0"]["kernel"]
    np.testing.assert_allclose(new_mean, 0.99 * old_mean + 0.01 * h.mean(0), rtol=1e-5, atol=1e-6)


def test_ensemble_critic_has_independent_members():
    critic = EnsembleCritic("mlp", 8, 2, num_critics=3)
    x = jnp.ones((6, 5))
    params = jax.jit(critic.init)(KEY, x)
    q = critic.apply(params, x)
    assert q.shape == (3, 6)
    assert len(set(np.round(np.asarray(q[:, 0]), 6))) == 3  # different initialisations


def test_tanh_gaussian_log_prob_matches_change_of_variables():
    mean = jnp.array([[0.3, -1.2], [2.0, 0.0]])
    log_std = jnp.array([[-0.5, 0.2], [0.1, -1.0]])
    action, log_prob = tanh_gaussian_sample(mean, log_std, KEY)
    u = jnp.arctanh(action)
    std = jnp.exp(log_std)
    expected = jnp.sum(-0.5 * ((u - mean) / std) ** 2 - jnp.log(std) - 0.5 * np.log(2 * np.pi)
                       - jnp.log(1 - action**2), axis=-1)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-4, atol=1e-4)


def test_actor_log_std_is_clipped():
    actor = TanhGaussianActor(2, "mlp", 8, 1, log_std_min=-1.0, log_std_max=0.5)
    x = 1e3 * jax.random.normal(KEY, (50, 4))
    _, log_std = actor.apply(actor.init(KEY, x), x)
    assert float(log_std.min()) >= -1.0 and float(log_std.max()) <= 0.5
    assert float(log_std.min()) == -1.0 and float(log_std.max()) == 0.5
