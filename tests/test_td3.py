"""TD3 targets, smoothing noise and the delayed actor against hand-computed values."""

import jax
import jax.numpy as jnp
import numpy as np
from _batches import fast_jit, random_batch, tiny_config

from ofe_jax import agents
from ofe_jax.agents import td3


def test_clipped_double_q_target_hand_computed():
    y = td3.clipped_double_q_target(jnp.array([1.0, 2.0]), jnp.array([0.99, 0.0]),
                                    jnp.array([[4.0, 1.0], [3.0, 9.0]]))
    np.testing.assert_allclose(y, [1.0 + 0.99 * 3.0, 2.0], rtol=1e-6)


def test_target_noise_is_clipped_then_action_is_clipped():
    target_action = jnp.array([0.0, 0.9, -0.2, 0.1])
    noise = jnp.array([10.0, 1.0, -10.0, 0.5])  # standard-normal draws
    # scale 0.2, clip 0.5: noise*0.2 = [2, 0.2, -2, 0.1] -> clipped [0.5, 0.2, -0.5, 0.1]
    # actions: [0.5, 1.1 -> 1.0, -0.7, 0.2]
    out = td3.smoothed_target_action(target_action, noise, 0.2, 0.5)
    np.testing.assert_allclose(out, [0.5, 1.0, -0.7, 0.2], rtol=1e-6)


def test_actor_loss_uses_first_critic():
    np.testing.assert_allclose(td3.actor_loss(jnp.array([[1.0, 3.0], [-5.0, -5.0]])), -2.0)


def test_default_config_has_the_papers_values():
    c = agents.default_config("td3")
    assert (c.policy_delay, c.target_noise, c.target_noise_clip, c.exploration_noise) == (2, 0.2, 0.5, 0.1)
    assert (c.gamma, c.tau, c.batch_size) == (0.99, 0.005, 256)


def _changed(a, b) -> bool:
    return any(not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_actor_and_targets_change_only_every_policy_delay_updates():
    config = tiny_config("td3")
    config.policy_delay = 3
    agent = agents.make(config, 4, 2)
    update = fast_jit(agent.update)
    state = agent.init(jax.random.PRNGKey(0))
    batches = random_batch(jax.random.PRNGKey(1), 16, 4, 2, leading=(7,))
    delayed_steps = []
    for i in range(7):
        new_state, metrics = update(state, jax.tree.map(lambda x: x[i], batches))
        assert _changed(state.critic_params, new_state.critic_params)
        actor = _changed(state.actor_params, new_state.actor_params)
        targets = (_changed(state.target_actor_params, new_state.target_actor_params),
                   _changed(state.target_critic_params, new_state.target_critic_params))
        assert targets == (actor, actor)
        assert (float(metrics["actor_loss"]) != 0.0) == actor
        if actor:
            delayed_steps.append(i)
        state = new_state
    assert delayed_steps == [0, 3, 6]


def test_exploration_noise_is_scaled_and_clipped():
    config = tiny_config("td3")
    agent = agents.make(config, 4, 2)
    state = agent.init(jax.random.PRNGKey(0))
    obs = jnp.zeros((20000, 4))
    det = agent.act(state, obs, jax.random.PRNGKey(1), deterministic=True)
    noisy = agent.act(state, obs, jax.random.PRNGKey(1))
    assert float(jnp.abs(noisy).max()) <= 1.0
    np.testing.assert_allclose(jnp.std(noisy - det, axis=0), 0.1, rtol=0.05)
