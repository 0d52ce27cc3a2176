"""The post-2021 options inside the agents and the loop: HL-Gauss critics, CrossQ, bfloat16
matmuls, per-member hyperparameters, observation normalisation. (The modules themselves --
BatchRenorm, the HL-Gauss projection, SimBa, running statistics -- are tested by hand in
test_post2021_modules.py; learning on the probe task in test_probe.py.)"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _batches import fast_jit, random_batch, tiny_config

from ofe_jax import agents
from ofe_jax.agents.critic import ValueHead, make_value_head
from ofe_jax.errors import ConfigError


def test_hl_gauss_head_hand_computed():
    """2 bins on [0, 2]; target 1 sits between them: probabilities 1/2 each, so zero logits give
    cross-entropy ln 2 per sample and critic, and Q = the mean of the centres 0.5 and 1.5."""
    config = agents.default_config("sac")
    config.critic_loss = "hl_gauss"
    config.hl_gauss.num_bins, config.hl_gauss.min_value, config.hl_gauss.max_value = 2, 0.0, 2.0
    head = make_value_head(config)
    assert head.outputs == 2 and head.edges == (0.0, 1.0, 2.0) and head.sigma == 0.75
    out = jnp.zeros((3, 4, 2))  # [C, B, bins]
    np.testing.assert_allclose(head.q(out), 1.0)
    np.testing.assert_allclose(head.loss(out, jnp.ones(4)), 3 * math.log(2.0), rtol=1e-6)
    # Targets beyond the support are clipped to its edges.
    np.testing.assert_allclose(head.loss(out, jnp.full(4, 9.0)), head.loss(out, jnp.full(4, 2.0)))
    np.testing.assert_allclose(head.loss(out, jnp.full(4, -5.0)),
                               head.loss(out, jnp.full(4, 0.0)))
    # Per-sample weights weight the batch mean.
    weight = jnp.array([2.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(head.loss(out, jnp.ones(4), weight), 0.5 * 3 * math.log(2.0),
                               rtol=1e-6)
    assert ValueHead("mse").outputs == 1


@pytest.mark.parametrize("name", ["sac", "td3", "crossq"])
def test_hl_gauss_critic_outputs_bins_and_reports_expected_q(name):
    config = tiny_config(name)
    config.critic_loss = "hl_gauss"
    config.hl_gauss.num_bins = 11
    agent = agents.make(config, 5, 2)
    state = agent.init(jax.random.PRNGKey(0))
    kernel = jax.tree.leaves(state.critic_params)
    assert any(x.shape[-1] == 11 for x in kernel)  # the head's 11 logits
    _, metrics = fast_jit(agent.update)(state, random_batch(jax.random.PRNGKey(1), 32, 5, 2))
    assert np.isfinite(metrics["critic_loss"]) and metrics["td_abs"].shape == (32,)
    assert -1000.0 <= float(metrics["q_mean"]) <= 1000.0  # an expectation over the support


def _find(tree, name):
    """The first sub-dict whose key is `name` (depth first)."""
    for key, value in tree.items():
        if key == name:
            return value
        if isinstance(value, dict) and (found := _find(value, name)) is not None:
            return found
    return None


def test_crossq_joint_forward_statistics_cover_both_halves():
    """After one update the critic's input BatchRenorm has moved its running mean by
    (1 - momentum) x the mean of the JOINT batch: its observation features are those of obs and
    next_obs together, not of either half."""
    config = tiny_config("crossq")
    agent = agents.make(config, 5, 2)
    state = agent.init(jax.random.PRNGKey(0))
    batch = random_batch(jax.random.PRNGKey(1), 64, 5, 2)
    new_state, _ = fast_jit(agent.update)(state, batch)
    mean = _find(new_state.critic_batch_stats, "BatchRenorm_0")["mean"]  # [C, 5 + 2]
    joint = np.concatenate([batch.obs, batch.next_obs]).mean(axis=0)
    momentum = config.batch_renorm.momentum
    for c in range(2):
        np.testing.assert_allclose(mean[c, :5], (1 - momentum) * joint, rtol=1e-4, atol=1e-7)
        assert not np.allclose(mean[c, :5], (1 - momentum) * np.asarray(batch.obs).mean(0),
                               rtol=1e-2)


def test_crossq_has_no_targets_and_updates_the_actor_every_third_step():
    config = tiny_config("crossq")
    agent = agents.make(config, 5, 2)
    state = agent.init(jax.random.PRNGKey(0))
    assert not any("target" in field for field in type(state).__dataclass_fields__)
    assert (config.policy_delay, config.adam_b1, config.actor_learning_rate,
            config.critic_network.units) == (3, 0.5, 1e-3, 2048)
    update = fast_jit(agent.update)
    batches = random_batch(jax.random.PRNGKey(1), 16, 5, 2, leading=(7,))
    changed = []
    for i in range(7):
        new_state, metrics = update(state, jax.tree.map(lambda x: x[i], batches))
        moved = any(not np.array_equal(a, b) for a, b in zip(
            jax.tree.leaves(state.actor_params), jax.tree.leaves(new_state.actor_params)))
        assert moved == (float(metrics["actor_loss"]) != 0.0)
        changed.append(moved)
        state = new_state
    assert [i for i, c in enumerate(changed) if c] == [0, 3, 6]


def test_crossq_needs_two_critics():
    config = tiny_config("crossq")
    config.num_critics = 3
    with pytest.raises(ConfigError, match=r"agent.num_critics must be 2 for crossq"):
        agents.make(config, 5, 2)


@pytest.mark.parametrize("name", ["sac", "td3", "crossq"])
def test_bfloat16_losses_are_close_to_float32(name):
    """Same parameters, batch and noise; matmuls and activations in bfloat16 (8-bit mantissa):
    every loss within 3% of float32's, parameters float32."""
    batch = random_batch(jax.random.PRNGKey(1), 64, 5, 2)
    losses, state = {}, None
    for dtype in ("float32", "bfloat16"):
        config = tiny_config(name, ofenet=True, kind="dense")
        config.compute_dtype = dtype
        agent = agents.make(config, 5, 2)
        shapes = jax.eval_shape(agent.init, jax.random.PRNGKey(0))  # traced, not compiled
        assert all(x.dtype != jnp.bfloat16 for x in jax.tree.leaves(shapes))
        if state is None:  # float32's parameters, then the same for bfloat16
            state = agent.init(jax.random.PRNGKey(0))
        assert jax.tree.map(lambda x: (x.shape, x.dtype), shapes) == jax.tree.map(
            lambda x: (x.shape, x.dtype), state)
        _, metrics = fast_jit(agent.update)(state, batch)
        losses[dtype] = {k: float(v) for k, v in metrics.items() if v.ndim == 0}
    for key in ("critic_loss", "actor_loss", "ofenet_loss"):
        np.testing.assert_allclose(losses["bfloat16"][key], losses["float32"][key], rtol=3e-2,
                                   err_msg=key)


def test_hyperparameters_live_in_the_state():
    """tau and the learning rate of one state can differ from the config's: a member of a grid."""
    agent = agents.make(tiny_config("sac"), 5, 2)
    batch = random_batch(jax.random.PRNGKey(1), 32, 5, 2)
    base = agent.init(jax.random.PRNGKey(0))
    other = agent.init(jax.random.PRNGKey(0), {"tau": 0.5, "critic_learning_rate": 3e-3})
    assert float(other.hparams["tau"]) == 0.5 and base.hparams["tau"] == np.float32(0.005)
    new_base, _ = fast_jit(agent.update)(base, batch)
    new_other, _ = fast_jit(agent.update)(other, batch)
    expected = agents.polyak(other.target_critic_params, new_other.critic_params, 0.5)
    jax.tree.map(lambda e, t: np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-7),
                 expected, new_other.target_critic_params)
    # Adam's first step is ~lr * sign(g): the step of a critic weight is ~10x larger.
    step = lambda new, old: np.median(np.abs(np.asarray(jax.tree.leaves(new.critic_params)[-1])
                                             - np.asarray(jax.tree.leaves(old.critic_params)[-1])))
    assert 5 < step(new_other, other) / step(new_base, base) < 15
    with pytest.raises(ValueError, match="not among this agent's"):
        agent.init(jax.random.PRNGKey(0), {"target_noise": 0.3})  # a TD3 field
