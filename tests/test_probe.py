"""Learning on a probe task whose optimum is known: a one-step contextual bandit.

obs s ~ U[-1, 1]^3, reward = -|a - f(s)|^2 with f(s) = 0.6 * tanh(W s), every step terminal
(discount 0). Actions in the data are uniform in [-1, 1], so Q must learn r(s, a) and the policy
must move to argmax_a Q = f(s). SAC's deterministic action tanh(mean) and TD3's mu(s) should
land near f(s). Untrained policies are ~0.4 away on average. Training stops early once the
policy is within STOP of f(s), well inside the asserted 0.08 (measured: after 300 to 2550 of the
3000 updates, depending on the agent).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ofe_jax import agents

OBS, ACT = 3, 2
STOP = 0.05  # mean |a - f(s)| at which training may stop early (the test asserts < 0.08)
W = jnp.array([[1.0, -0.5, 0.3], [-0.7, 0.2, 0.9]])


def optimal_action(obs):
    return 0.6 * jnp.tanh(obs @ W.T)


def bandit_batches(key, num_batches, batch_size):
    obs_key, action_key = jax.random.split(key)
    obs = jax.random.uniform(obs_key, (num_batches, batch_size, OBS), minval=-1, maxval=1)
    action = jax.random.uniform(action_key, (num_batches, batch_size, ACT), minval=-1, maxval=1)
    reward = -jnp.sum(jnp.square(action - optimal_action(obs)), axis=-1)
    return agents.make_transition(obs, action, reward, jnp.ones(reward.shape), obs, gamma=0.99)


# (algorithm, OFENet, post-2021 options); the options: "hl_gauss" critic (support [-3, 1]: the
# rewards lie in [-2.2, 0] and every step is terminal), "simba" torso, "bf16" matmuls; CrossQ
# with its own defaults but 64-unit networks (and the batch norm warm-up shortened to 500).
PROBES = [("sac", False, ()), ("sac", True, ()), ("td3", False, ()), ("td3", True, ()),
          ("sac", False, ("hl_gauss", "simba")), ("sac", True, ("bf16",)),
          ("td3", False, ("hl_gauss",)), ("crossq", False, ())]


@pytest.mark.parametrize("name,ofenet,options", PROBES)
def test_agent_finds_the_optimal_action(name, ofenet, options):
    config = agents.default_config(name)
    config.network.units = 64
    config.network.kind = "dense" if ofenet else "mlp"
    config.ofenet.enabled = ofenet
    config.ofenet.total_units = 32
    config.ofenet.layers = 2
    config.actor_learning_rate = config.critic_learning_rate = 1e-3
    if "hl_gauss" in options:
        config.critic_loss = "hl_gauss"
        config.hl_gauss.min_value, config.hl_gauss.max_value = -3.0, 1.0
    if "simba" in options:
        config.network.kind, config.network.layers = "simba", 1
    if "bf16" in options:
        config.compute_dtype = "bfloat16"
    if name == "crossq":
        config.critic_network.units = 64
        config.batch_renorm.warmup_steps = 500
    agent = agents.make(config, OBS, ACT)
    update_many = jax.jit(agent.update_many)
    state = agent.init(jax.random.PRNGKey(0))
    test_obs = jax.random.uniform(jax.random.PRNGKey(99), (512, OBS), minval=-1, maxval=1)

    def error(s):  # mean |a - a*| of the deterministic policy
        return float(jnp.mean(jnp.abs(agent.act(s, test_obs, None, deterministic=True)
                                      - optimal_action(test_obs))))

    before = after = error(state)
    for i in range(20):  # at most 20 x 150 = 3000 updates
        state, metrics = update_many(state, bandit_batches(jax.random.PRNGKey(i), 150, 128))
        assert np.isfinite(float(metrics["critic_loss"]))
        after = error(state)
        if after < STOP:
            break
    print(f"{name} {options}: mean |a - a*| {before:.3f} -> {after:.3f} after {150 * (i + 1)} "
          f"updates")
    assert before > 0.2
    assert after < 0.08, f"mean |a - a*| = {after:.3f} (untrained {before:.3f})"
