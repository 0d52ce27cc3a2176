"""Prioritised replay (sum tree, proportional sampling, importance weights), weighted critic
losses, and Ape-X per-actor exploration levels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _batches import fast_jit, random_batch, tiny_config

import ml_collections

from ofe_jax import agents, replay
from ofe_jax.agents import critic
from ofe_jax.replay import prioritized
from ofe_jax.training import exploration_ladder

EXAMPLE = {"obs": jnp.zeros((2,)), "reward": jnp.zeros(())}


def _items(ids):
    ids = jnp.asarray(ids, jnp.float32)
    return {"obs": jnp.stack([ids, -ids], axis=1), "reward": ids}


def _with_priorities(priorities):
    """A buffer whose slot i holds item i with priority p_i (alpha = 1, eps = 0)."""
    n = len(priorities)
    state = prioritized.add(prioritized.init(n, EXAMPLE), _items(np.arange(n)))
    return prioritized.update(state, jnp.arange(n), jnp.asarray(priorities, jnp.float32), 1.0, 0.0)


def test_sum_tree_nodes_are_sums_of_children_after_wraparound():
    state = prioritized.init(6, EXAMPLE)  # 8 leaves
    for start in range(0, 20, 4):  # 4 items at a time: wraps around capacity 6
        state = prioritized.add(state, _items(np.arange(start, start + 4)))
        state = prioritized.update(state, jnp.array([0, 3]), jnp.array([0.5, 2.0]) + start,
                                   0.6, 1e-6)
    tree = np.asarray(state.tree)
    for node in range(1, 8):
        np.testing.assert_allclose(tree[node], tree[2 * node] + tree[2 * node + 1], rtol=1e-6)
    assert np.all(tree[8 + 6:] == 0)  # slots beyond capacity never get mass
    assert int(state.size) == 6


def test_new_items_get_the_largest_priority_so_far():
    state = _with_priorities([1.0, 5.0, 2.0, 0.5])
    assert float(state.max_priority[0]) == 5.0
    state = prioritized.add(state, _items([9]))  # overwrites slot 0
    np.testing.assert_allclose(state.tree[4:8], [5.0, 5.0, 2.0, 0.5])


def test_sampling_is_proportional_to_priority():
    priorities = np.array([1.0, 2.0, 3.0, 4.0, 0.0, 10.0])
    state = _with_priorities(priorities)
    counts = np.zeros(6)
    for i in range(20):
        s = prioritized.sample(state, jax.random.PRNGKey(i), 500, 1.0)
        items, index = s.batch, s.info
        counts += np.bincount(np.asarray(index), minlength=6)
        np.testing.assert_array_equal(items["reward"], index)  # items come from their slots
    np.testing.assert_allclose(counts / counts.sum(), priorities / priorities.sum(), atol=0.01)
    assert counts[4] == 0


def test_importance_weights_hand_computed():
    # p = [1, 2, 3, 4], size 4: P_i = p_i / 10; w_i = (4 P_i)^-beta / (4 * 0.1)^-beta = p_i^-beta
    state = _with_priorities([1.0, 2.0, 3.0, 4.0])
    s = prioritized.sample(state, jax.random.PRNGKey(0), 64, 0.5)
    np.testing.assert_allclose(s.weight, (np.asarray(s.info) + 1.0) ** -0.5, rtol=1e-5)
    s = prioritized.sample(state, jax.random.PRNGKey(0), 64, 0.0)
    np.testing.assert_allclose(s.weight, 1.0)


def test_beta_anneals_from_beta0_to_one():
    np.testing.assert_allclose([prioritized.beta_schedule(jnp.array(s) / 1000, 0.4)
                                for s in (0, 500, 1000, 5000)], [0.4, 0.7, 1.0, 1.0], rtol=1e-6)


def _replay_config(prioritized_: bool) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict({"obs_dtype": "float32", "prioritized": prioritized_,
                                      "priority_alpha": 1.0, "priority_eps": 0.0,
                                      "priority_beta0": 0.5})


def test_one_protocol_for_both_buffers():
    """replay.make binds the hyperparameters: the same calls work on both kinds; uniform replay
    returns unit weights and ignores update; prioritised replay anneals beta with progress."""
    uniform, per = replay.make(_replay_config(False)), replay.make(_replay_config(True))
    for buffer in (uniform, per):
        state = buffer.add(buffer.init(4, EXAMPLE), _items(np.arange(4)))
        s = buffer.sample(state, jax.random.PRNGKey(0), 8, 0.0)
        np.testing.assert_array_equal(s.batch["reward"], s.info)  # info = the slots
        state = buffer.update(state, s.info, jnp.arange(8, dtype=jnp.float32))
        assert s.weight.shape == (8,)
    u_state = uniform.add(uniform.init(4, EXAMPLE), _items(np.arange(4)))
    s = uniform.sample(u_state, jax.random.PRNGKey(0), 8, 0.0)
    np.testing.assert_array_equal(s.weight, 1.0)
    assert jax.tree.all(jax.tree.map(np.array_equal, uniform.update(u_state, s.info, s.weight),
                                     u_state))
    p_state = per.update(per.add(per.init(4, EXAMPLE), _items(np.arange(4))), jnp.arange(4),
                         jnp.array([1.0, 2.0, 3.0, 4.0]))
    # w_i = p_i^-beta (see the hand-computed test); beta = 0.5 at progress 0, 1 at progress 1
    for progress, beta in ((0.0, 0.5), (1.0, 1.0)):
        s = per.sample(p_state, jax.random.PRNGKey(1), 16, progress)
        np.testing.assert_allclose(s.weight, (np.asarray(s.info) + 1.0) ** -beta, rtol=1e-5)


def test_weighted_critic_loss_and_td_errors_hand_computed():
    q = jnp.array([[1.0, 2.0], [3.0, 0.0]])  # [C=2, B=2]
    target = jnp.array([0.0, 1.0])
    # unweighted: mean([1, 1]) + mean([9, 1]) = 1 + 5 = 6
    np.testing.assert_allclose(critic.critic_loss(q, target), 6.0)
    # weights [0.5, 1]: mean([0.5, 1]) + mean([4.5, 1]) = 0.75 + 2.75 = 3.5
    np.testing.assert_allclose(critic.critic_loss(q, target, jnp.array([0.5, 1.0])), 3.5)
    td = critic.td_abs(q, target)
    np.testing.assert_allclose(td, [2.0, 1.0])  # mean(|1|, |3|), mean(|1|, |1|)


@pytest.mark.parametrize("name", ["sac", "td3"])
def test_agents_weight_the_critic_loss_and_report_td_errors(name):
    agent = agents.make(tiny_config(name), 4, 2)
    state = agent.init(jax.random.PRNGKey(0))
    batch = random_batch(jax.random.PRNGKey(1), 8, 4, 2)
    _, metrics = fast_jit(agent.update)(state, batch, jnp.full((8,), 0.5))
    assert metrics["td_abs"].shape == (8,) and bool(jnp.all(metrics["td_abs"] >= 0))
    _, plain = fast_jit(agent.update)(state, batch)
    # every update reports |TD errors| (they do not depend on the weights) ...
    np.testing.assert_allclose(plain["td_abs"], metrics["td_abs"], rtol=1e-6)
    np.testing.assert_allclose(metrics["critic_loss"], 0.5 * plain["critic_loss"], rtol=1e-5)


def test_exploration_ladder_end_points():
    levels = np.asarray(exploration_ladder(8, 0.4**8, 0.4))
    np.testing.assert_allclose([levels[0], levels[-1]], [0.4, 0.4**8], rtol=1e-6)
    np.testing.assert_allclose(levels[1:] / levels[:-1], 0.4 ** (7 / 7), rtol=1e-5)  # geometric
    np.testing.assert_allclose(exploration_ladder(1, 0.01, 0.4), [0.4])


def test_td3_per_actor_noise_levels():
    agent = agents.make(tiny_config("td3"), 4, 2)
    state = agent.init(jax.random.PRNGKey(0))
    obs = jnp.zeros((3, 4))
    det = agent.act(state, obs, None, deterministic=True)
    scale = jnp.array([0.3, 0.05, 0.0])
    keys = jax.random.split(jax.random.PRNGKey(1), 4000)
    noisy = jax.vmap(lambda k: agent.act(state, obs, k, noise_scale=scale))(keys)
    np.testing.assert_allclose(jnp.std(noisy - det, axis=(0, 2)), scale, rtol=0.06, atol=1e-7)
