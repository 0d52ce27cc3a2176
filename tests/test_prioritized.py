"""Prioritised replay (sum tree, proportional sampling, importance weights), weighted critic
losses, and Ape-X per-actor exploration levels."""

import functools
from typing import NamedTuple

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


# ----------------------------------------------------------------------------------------------
# Reference: the sum-tree algorithm as it was before issue 24 (commit a3db4af), kept here to test
# that the vectorised trees sample the same slots with the same weights. Its duplicate rule is
# applied on the host (the last occurrence wins, what XLA:CPU's scatter did), so that it does
# not depend on a backend's scatter order.


class ReferenceState(NamedTuple):
    tree: jax.Array  # [2 L] sum tree
    max_priority: float
    position: int
    size: int
    capacity: int


def reference_init(capacity: int) -> ReferenceState:
    leaves = 1 << max(0, (capacity - 1).bit_length())
    return ReferenceState(jnp.zeros((2 * leaves,), jnp.float32), 1.0, 0, 0, capacity)


@jax.jit
def _reference_write(tree, slots, values):
    """Leaf writes, then every ancestor level by level from its children."""
    num_leaves = tree.shape[0] // 2
    node = slots + num_leaves
    tree = tree.at[node].set(values)
    for _ in range(num_leaves.bit_length() - 1):
        node = node // 2
        tree = tree.at[node].set(tree[2 * node] + tree[2 * node + 1])
    return tree


def _reference_set_leaves(tree, slots, values):
    slots, values = np.asarray(slots, np.int32), np.asarray(values, np.float32)
    last = dict(zip(slots.tolist(), values))  # a slot's last value, given to all its writes
    return _reference_write(tree, slots, np.array([last[slot] for slot in slots.tolist()]))


def reference_add(ref: ReferenceState, n: int) -> ReferenceState:
    slots = (ref.position + np.arange(n)) % ref.capacity
    tree = _reference_set_leaves(ref.tree, slots, np.full(n, ref.max_priority, np.float32))
    return ref._replace(tree=tree, position=(ref.position + n) % ref.capacity,
                        size=min(ref.size + n, ref.capacity))


@functools.partial(jax.jit, static_argnums=(2, 4))
def _reference_draw(tree, key, batch_size, size, beta):
    num_leaves = tree.shape[0] // 2
    total = tree[1]
    mass = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) * (total / batch_size)
    mass = jnp.minimum(mass, total * (1 - 1e-7))
    node = jnp.ones((batch_size,), jnp.int32)
    for _ in range(num_leaves.bit_length() - 1):
        left = tree[2 * node]
        right = mass >= left
        mass = jnp.where(right, mass - left, mass)
        node = 2 * node + right.astype(jnp.int32)
    index = jnp.minimum(node - num_leaves, size - 1)
    leaves = tree[num_leaves:]
    probability = leaves[index] / total
    min_probability = jnp.min(jnp.where(jnp.arange(num_leaves) < size, leaves, jnp.inf)) / total
    n = size.astype(jnp.float32)
    return index, (n * probability) ** (-beta) / (n * min_probability) ** (-beta)


def reference_sample(ref: ReferenceState, key, batch_size: int, beta: float):
    """(slot indices [B], importance weights [B]) for `key`; beta a constant of the program."""
    return _reference_draw(ref.tree, key, batch_size, jnp.int32(ref.size), beta)


def reference_update(ref: ReferenceState, index, td_abs, alpha: float, eps: float):
    priority = (jnp.asarray(td_abs) + eps) ** alpha
    return ref._replace(tree=_reference_set_leaves(ref.tree, index, priority),
                        max_priority=max(ref.max_priority, float(jnp.max(priority))))


def _with_block_levels(monkeypatch, block_levels: int):
    """Tree writes in steps of `block_levels` levels on every platform (1 is the CPU's, 4 the
    GPU's): both must give the same bits. Returns freshly jitted add, sample, update."""
    monkeypatch.setattr(prioritized, "BLOCK_LEVELS", {"cpu": block_levels,
                                                      "default": block_levels})
    fresh = lambda f: lambda *args: f(*args)  # new functions: jit traces them anew
    return (jax.jit(fresh(prioritized.add)),
            jax.jit(fresh(prioritized.sample), static_argnums=(2, 3)),
            jax.jit(fresh(prioritized.update), static_argnums=(3, 4)))


def _assert_same(state, ref):
    np.testing.assert_array_equal(state.tree, ref.tree)
    assert float(state.max_priority[0]) == np.float32(ref.max_priority)


@pytest.mark.parametrize("capacity,block_levels", [(1, 1), (6, 1), (37, 1), (1000, 1), (6, 4),
                                                   (1000, 4)])
def test_same_slots_and_weights_as_the_reference(monkeypatch, capacity, block_levels):
    """Adds of 4 (wrapping around capacities 4 does not divide), samples of 16 (more than some
    capacities: duplicates), updates with fresh priorities, an update naming slots twice and
    slots not yet filled: every step's slots, weights (bit for bit) and sum tree as before,
    with the CPU's and the GPU's tree-write steps (1 and 4 levels: 1000 slots are 4 + 3 + 3)."""
    add, sample, update = _with_block_levels(monkeypatch, block_levels)
    rng = np.random.default_rng(capacity)
    state, ref = prioritized.init(capacity, EXAMPLE), reference_init(capacity)
    key = jax.random.PRNGKey(capacity)
    for step in range(12):
        n = min(4, capacity)
        state, ref = add(state, _items(np.arange(n) + 4 * step)), reference_add(ref, n)
        _assert_same(state, ref)
        key, sample_key = jax.random.split(key)
        s = sample(state, sample_key, 16, 0.4)
        index, weight = reference_sample(ref, sample_key, 16, 0.4)
        np.testing.assert_array_equal(s.info, index)
        np.testing.assert_array_equal(s.weight, weight)
        td_abs = np.abs(rng.standard_normal(16)).astype(np.float32)
        state = update(state, s.info, td_abs, 0.6, 1e-6)
        ref = reference_update(ref, index, td_abs, 0.6, 1e-6)
        _assert_same(state, ref)
        slots = rng.integers(0, capacity, 6)
        slots = np.concatenate([slots, slots[:3][::-1], [capacity - 1]])  # twice; maybe unfilled
        td_abs = np.abs(rng.standard_normal(slots.size)).astype(np.float32)
        state = update(state, jnp.asarray(slots, jnp.int32), td_abs, 0.6, 1e-6)
        ref = reference_update(ref, slots, td_abs, 0.6, 1e-6)
        _assert_same(state, ref)


def _rebuilt(leaves: np.ndarray, combine) -> np.ndarray:
    """A tree built bottom-up from its float32 leaves [L], every node combine(left, right)
    (node 0 is unused: compare [1:])."""
    tree = np.zeros(2 * leaves.size, np.float32)
    tree[leaves.size:] = leaves
    for node in range(leaves.size - 1, 0, -1):
        tree[node] = combine(tree[2 * node], tree[2 * node + 1])
    return tree


def test_duplicate_slots_keep_their_last_priority_and_trees_equal_a_rebuild():
    state = prioritized.add(prioritized.init(6, EXAMPLE), _items(np.arange(5)))  # slot 5 empty
    state = prioritized.update(state, jnp.array([2, 0, 2, 4, 2, 0, 5]),
                               jnp.array([5.0, 1.0, 7.0, 0.5, 3.0, 9.0, 0.25]), 1.0, 0.0)
    leaves = np.asarray(state.tree[8:])
    np.testing.assert_array_equal(leaves, [9.0, 1.0, 3.0, 1.0, 0.5, 0.25, 0.0, 0.0])
    assert float(state.max_priority[0]) == 9.0  # every priority of the batch counts
    np.testing.assert_array_equal(state.tree[1:], _rebuilt(leaves, np.add)[1:])
    # the min tree holds the filled slots only (slot 5 was updated but is not filled)
    filled = np.where(np.arange(8) < 5, leaves, np.inf).astype(np.float32)
    np.testing.assert_array_equal(state.min_tree[1:], _rebuilt(filled, np.minimum)[1:])
    assert float(state.min_tree[1]) == 0.5


@pytest.mark.parametrize("packed,block_levels", [(True, 1), (False, 4)])
def test_many_random_updates_leave_the_trees_equal_to_a_rebuild(monkeypatch, packed,
                                                                 block_levels):
    """No drift: after 100 batches of writes (1024 leaves, random slots with repeats), both
    trees are bit-equal to trees rebuilt from their leaves. packed=False: the (slot, position)
    sort that big batches use finds the duplicates; block_levels as above."""
    if not packed:
        monkeypatch.setattr(prioritized, "PACKED_KEYS_BELOW", 0)
    add, _, update = _with_block_levels(monkeypatch, block_levels)
    rng = np.random.default_rng(0)
    state = add(prioritized.init(1000, EXAMPLE), _items(np.arange(700)))
    power = jax.jit(lambda td_abs: (td_abs + 1e-6) ** 0.6)  # priorities, as update computes them
    expected = np.zeros(1024, np.float32)
    expected[:700] = 1.0
    for _ in range(100):
        slots = rng.integers(0, 700, 64)
        td_abs = (np.abs(rng.standard_normal(64)) * 10.0 ** rng.integers(-3, 3, 64)).astype(
            np.float32)
        state = update(state, jnp.asarray(slots, jnp.int32), td_abs, 0.6, 1e-6)
        for slot, priority in zip(slots, np.asarray(power(td_abs))):
            expected[slot] = priority  # the last write of a slot wins
    np.testing.assert_array_equal(state.tree[1024:], expected)
    np.testing.assert_array_equal(state.tree[1:], _rebuilt(expected, np.add)[1:])
    filled = np.where(np.arange(1024) < 700, expected, np.inf).astype(np.float32)
    np.testing.assert_array_equal(state.min_tree[1:], _rebuilt(filled, np.minimum)[1:])


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA:CPU's scatter order")
def test_xla_cpu_scatter_kept_the_last_duplicate():
    """The old code's rule, which the new code states: XLA:CPU's scatter-set with duplicate
    indices keeps the last update (on a GPU the order is unspecified)."""
    out = jax.jit(lambda t, i, v: t.at[i].set(v))(jnp.zeros(4), jnp.array([1, 3, 1, 1, 3]),
                                                  jnp.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(out, [0.0, 4.0, 0.0, 5.0])


def test_vmapped_seeds_match_each_seed_alone_and_the_reference():
    """One buffer per seed under vmap: seed s's slots and trees are bit for bit those of seed s
    alone and of the reference, its weights to 1 ulp: under vmap XLA:CPU vectorises the powers
    and quotients of the weights, which rounds ~1 weight in 8 one ulp away from the unbatched
    program (the code before issue 24 alike). The new priorities are the items' rewards + 1
    (alpha = 1), so that the trees depend on the sampled slots only."""
    seeds, capacity = 3, 37
    keys = jax.random.split(jax.random.PRNGKey(7), seeds)
    one = prioritized.add(prioritized.init(capacity, EXAMPLE), _items(np.arange(30)))
    batched, singles = jax.tree.map(lambda x: jnp.stack([x] * seeds), one), [one] * seeds
    refs = [reference_add(reference_init(capacity), 30) for _ in range(seeds)]

    @jax.jit
    def step(state, key):
        s = prioritized.sample(state, key, 16, 0.4)
        return prioritized.update(state, s.info, s.batch["reward"] + 1.0, 1.0, 0.0), s

    for round_ in range(4):
        keys = jax.vmap(lambda k: jax.random.fold_in(k, round_))(keys)
        batched, s = jax.vmap(step)(batched, keys)
        for seed in range(seeds):
            singles[seed], alone = step(singles[seed], keys[seed])
            np.testing.assert_array_equal(s.info[seed], alone.info)
            np.testing.assert_allclose(s.weight[seed], alone.weight, rtol=2.5e-7, atol=0)
            np.testing.assert_array_equal(batched.tree[seed], singles[seed].tree)
            np.testing.assert_array_equal(batched.min_tree[seed], singles[seed].min_tree)
            index, weight = reference_sample(refs[seed], keys[seed], 16, 0.4)
            np.testing.assert_array_equal(alone.info, index)
            np.testing.assert_array_equal(alone.weight, weight)
            refs[seed] = reference_update(refs[seed], index, np.asarray(index) + 1.0, 1.0, 0.0)
            np.testing.assert_array_equal(singles[seed].tree, refs[seed].tree)
    assert len({tuple(np.asarray(s.info[i])) for i in range(seeds)}) == seeds  # seeds differ


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
