"""SAC targets and losses against hand-computed values, and the agent's use of them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _batches import fast_jit, random_batch, tiny_config

from ofe_jax import agents
from ofe_jax.agents import sac
from ofe_jax.networks import EnsembleCritic, TanhGaussianActor, tanh_gaussian_sample


def test_soft_q_target_hand_computed():
    reward = jnp.array([1.0, -0.5])
    discount = jnp.array([0.99, 0.0])  # second transition terminated
    next_q = jnp.array([[2.0, 7.0], [3.0, 5.0]])  # [C=2, B=2]
    next_log_prob = jnp.array([-1.5, 0.3])
    # y0 = 1 + 0.99 * (min(2, 3) - 0.2 * -1.5) = 1 + 0.99 * 2.3 = 3.277 ; y1 = -0.5
    y = sac.soft_q_target(reward, discount, next_q, next_log_prob, jnp.float32(0.2))
    np.testing.assert_allclose(y, [3.277, -0.5], rtol=1e-6)


def test_actor_and_temperature_losses_hand_computed():
    log_prob = jnp.array([-1.0, 0.5])
    q = jnp.array([[1.0, 2.0], [0.5, 4.0]])
    # mean(0.5 * [-1, 0.5] - [0.5, 2]) = mean([-1.0, -1.75]) = -1.375
    np.testing.assert_allclose(sac.actor_loss(log_prob, q, 0.5), -1.375, rtol=1e-6)
    # Eq. 18 ("alpha"): -alpha * mean(log_prob + target) with alpha = e^0 = 1, target = -2:
    # -(-0.25 - 2) = 2.25
    log_alpha = jnp.float32(0.0)
    eq18 = lambda la, lp, t: sac.temperature_loss(la, lp, t, "alpha")
    np.testing.assert_allclose(eq18(log_alpha, log_prob, -2.0), 2.25, rtol=1e-6)
    # d/dlog_alpha = -alpha * mean(log_prob + target) = 2.25; alpha rises when entropy is low.
    grad = jax.grad(eq18)(log_alpha, log_prob, -2.0)
    np.testing.assert_allclose(grad, 2.25, rtol=1e-6)
    # No gradient flows into log_prob from the temperature loss.
    assert float(jnp.abs(jax.grad(eq18, argnums=1)(log_alpha, log_prob, -2.0)).sum()) == 0.0


def test_log_alpha_temperature_loss_hand_computed():
    """The default form (softlearning, SB3, sbx): -log_alpha * mean(log pi + target)."""
    log_prob = jnp.array([-1.0, 0.5])  # mean -0.25
    log_alpha = jnp.log(jnp.float32(0.1))  # alpha = 0.1
    # target -2: gap = -2.25; loss = -ln(0.1) * -2.25 = -(-2.302585) * -2.25 = -5.180817
    np.testing.assert_allclose(sac.temperature_loss(log_alpha, log_prob, -2.0), -5.1808167,
                               rtol=1e-6)
    # gradient -gap = 2.25 whatever alpha is (the "alpha" form's is 0.1 * 2.25 here)
    np.testing.assert_allclose(jax.grad(sac.temperature_loss)(log_alpha, log_prob, -2.0), 2.25,
                               rtol=1e-6)
    np.testing.assert_allclose(jax.grad(sac.temperature_loss)(log_alpha, log_prob, -2.0,
                                                              "alpha"), 0.225, rtol=1e-5)
    assert float(jnp.abs(jax.grad(sac.temperature_loss, argnums=1)(
        log_alpha, log_prob, -2.0)).sum()) == 0.0


@pytest.mark.parametrize("form", ["log_alpha", "alpha"])
def test_agent_temperature_step_follows_the_configured_form(form):
    """alpha_loss reported by the agent, with init_alpha 0.5 and target entropy -|A| = -2:
    log form: log(0.5) * (entropy + 2); Eq. 18: 0.5 * (entropy + 2). The first Adam step moves
    log alpha by ~lr * sign(gradient) in both."""
    config = tiny_config("sac")
    config.init_alpha, config.temperature_loss = 0.5, form
    agent = agents.make(config, 4, 2)
    state = agent.init(jax.random.PRNGKey(0))
    new_state, m = fast_jit(agent.update)(state, random_batch(jax.random.PRNGKey(1), 32, 4, 2))
    scale = np.log(0.5) if form == "log_alpha" else 0.5
    np.testing.assert_allclose(m["alpha_loss"], scale * (m["entropy"] + 2.0), rtol=1e-5)
    step = float(new_state.log_alpha - state.log_alpha)
    assert abs(abs(step) - config.alpha_learning_rate) < 1e-6
    assert np.sign(step) == -np.sign(float(m["entropy"]) + 2.0)  # alpha falls if entropy > target


def test_polyak_update_hand_computed():
    target = {"w": jnp.array([1.0, 2.0])}
    online = {"w": jnp.array([3.0, -2.0])}
    np.testing.assert_allclose(agents.polyak(target, online, 0.25)["w"], [1.5, 1.0])


def test_default_config_has_the_papers_values():
    c = agents.default_config("sac")
    assert (c.gamma, c.tau, c.batch_size, c.init_alpha, c.target_entropy_scale) == (0.99, 0.005, 256, 1.0, -1.0)
    assert c.temperature_loss == "log_alpha"  # the SAC authors' code (softlearning), SB3, sbx
    assert c.actor_learning_rate == c.critic_learning_rate == c.alpha_learning_rate == 3e-4
    assert (c.network.kind, c.network.units, c.network.layers) == ("mlp", 256, 2)


@pytest.fixture(scope="module")
def sac_step():
    config = tiny_config("sac")
    agent = agents.make(config, 4, 2)
    state = agent.init(jax.random.PRNGKey(0))
    batch = random_batch(jax.random.PRNGKey(1), 32, 4, 2)
    new_state, metrics = fast_jit(agent.update)(state, batch)
    return config, agent, state, batch, new_state, metrics


def test_agent_critic_loss_matches_independent_computation(sac_step):
    config, _, state, batch, new_state, metrics = sac_step
    net = config.network
    actor = TanhGaussianActor(2, net.kind, net.units, net.layers)
    critic = EnsembleCritic(net.kind, net.units, net.layers)
    # Re-derive the keys the update uses: key, next_action_key, action_key = split(state.key, 3)
    _, next_action_key, _ = jax.random.split(state.key, 3)
    mean, log_std = actor.apply({"params": state.actor_params}, batch.next_obs)
    next_action, next_log_prob = tanh_gaussian_sample(mean, log_std, next_action_key)
    next_q = np.asarray(critic.apply({"params": state.target_critic_params},
                                     jnp.concatenate([batch.next_obs, next_action], -1)))
    alpha = 1.0  # init_alpha
    y = np.asarray(batch.reward) + np.asarray(batch.discount) * (
        next_q.min(0) - alpha * np.asarray(next_log_prob))
    q = np.asarray(critic.apply({"params": state.critic_params},
                                jnp.concatenate([batch.obs, batch.action], -1)))
    expected = ((q - y) ** 2).mean(axis=1).sum()
    np.testing.assert_allclose(metrics["critic_loss"], expected, rtol=1e-5)


def test_agent_uses_target_entropy_minus_action_dim():
    config = tiny_config("sac")
    config.temperature_loss = "alpha"
    agent = agents.make(config, 4, 2)
    _, m = fast_jit(agent.update)(agent.init(jax.random.PRNGKey(0)),
                                 random_batch(jax.random.PRNGKey(1), 32, 4, 2))
    # alpha_loss = -alpha * (mean log_prob + target) = alpha * (entropy + |A|) with |A| = 2.
    np.testing.assert_allclose(m["alpha_loss"], m["alpha"] * (m["entropy"] + 2.0), rtol=1e-5)


def test_update_changes_everything_and_targets_follow_by_tau(sac_step):
    config, _, state, _, new_state, _ = sac_step
    for field in ("actor_params", "critic_params", "log_alpha"):
        a, b = jax.tree.leaves(getattr(state, field)), jax.tree.leaves(getattr(new_state, field))
        assert any(not np.array_equal(x, y) for x, y in zip(a, b)), field
    expected = agents.polyak(state.target_critic_params, new_state.critic_params, config.tau)
    jax.tree.map(lambda e, t: np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-7),
                 expected, new_state.target_critic_params)
    assert int(new_state.step) == 1
    assert not np.array_equal(state.key, new_state.key)
