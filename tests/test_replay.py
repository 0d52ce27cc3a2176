"""Tests of ofe_jax.replay: ring-buffer contents, sampling, vmap over seeds, storage dtypes, jit."""

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from ofe_jax import replay


@struct.dataclass
class Item:
    """Stand-in for agents.Transition: the buffer must be generic over the item pytree."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    discount: jax.Array
    next_obs: jax.Array


OBS_DIM, ACT_DIM = 3, 2


def example_item():
    return Item(
        obs=jnp.zeros(OBS_DIM),
        action=jnp.zeros(ACT_DIM),
        reward=jnp.zeros(()),
        discount=jnp.zeros(()),
        next_obs=jnp.zeros(OBS_DIM),
    )


def make_items(ids):
    """Items whose every field is a function of an integer id, so a slot's id is recoverable."""
    ids = jnp.asarray(ids, jnp.float32)  # [n]
    return Item(
        obs=ids[:, None] + jnp.array([0.0, 0.25, 0.5]),
        action=-ids[:, None] * jnp.ones(ACT_DIM),
        reward=ids,
        discount=ids / 100.0,
        next_obs=ids[:, None] + 1000.0 + jnp.zeros(OBS_DIM),
    )


def assert_items_equal(actual, expected):
    jax.tree_util.tree_map(np.testing.assert_array_equal, actual, expected)


def add_many(state, num_adds, n, first_id=0):
    for i in range(num_adds):
        state = replay.add(state, make_items(first_id + np.arange(i * n, (i + 1) * n)))
    return state


# ----------------------------------------------------------------------------- ring buffer


def test_init_shapes_and_empty_state():
    state = replay.init(10, example_item())
    assert state.data.obs.shape == (10, OBS_DIM)
    assert state.data.action.shape == (10, ACT_DIM)
    assert state.data.reward.shape == (10,)
    assert state.position.dtype == jnp.int32 and state.size.dtype == jnp.int32
    assert int(state.position) == 0 and int(state.size) == 0
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree_util.tree_leaves(state))


def test_add_wraps_around_when_n_does_not_divide_capacity():
    state = replay.init(10, example_item())
    # Adds of 3 items with ids 0, 1, 2, ...; expected slot contents worked out by hand.
    expected = {  # number of adds -> (position, size, ids in slots 0..9; -1 = never written)
        1: (3, 3, [0, 1, 2, -1, -1, -1, -1, -1, -1, -1]),
        3: (9, 9, [0, 1, 2, 3, 4, 5, 6, 7, 8, -1]),
        4: (2, 10, [10, 11, 2, 3, 4, 5, 6, 7, 8, 9]),
        7: (1, 10, [20, 11, 12, 13, 14, 15, 16, 17, 18, 19]),
        9: (7, 10, [20, 21, 22, 23, 24, 25, 26, 17, 18, 19]),
        17: (1, 10, [50, 41, 42, 43, 44, 45, 46, 47, 48, 49]),
    }
    for num_adds in range(1, 18):
        state = replay.add(state, make_items(np.arange(3 * (num_adds - 1), 3 * num_adds)))
        if num_adds in expected:
            position, size, slot_ids = expected[num_adds]
            assert int(state.position) == position, num_adds
            assert int(state.size) == size, num_adds
            written = [i for i, slot_id in enumerate(slot_ids) if slot_id >= 0]
            stored = jax.tree_util.tree_map(lambda x: x[np.array(written)], state.data)
            assert_items_equal(stored, make_items([slot_ids[i] for i in written]))


def test_add_exactly_capacity_from_nonzero_position():
    state = replay.init(4, example_item())
    state = replay.add(state, make_items([0]))
    state = replay.add(state, make_items([1, 2, 3, 4]))  # n == capacity, starting at slot 1
    assert int(state.position) == 1 and int(state.size) == 4
    np.testing.assert_array_equal(state.data.reward, [4, 1, 2, 3])


def test_generic_pytrees_dict_and_namedtuple():
    class Pair(NamedTuple):
        obs: jax.Array
        label: jax.Array

    state = replay.init(
        5, {"obs": jnp.zeros(2), "extra": Pair(jnp.zeros(()), jnp.zeros((), jnp.int32))}
    )
    items = {
        "obs": jnp.ones((3, 2)),
        "extra": Pair(jnp.full((3,), 2.0), jnp.arange(3, dtype=jnp.int32)),
    }
    state = replay.add(state, items)
    batch = replay.sample(state, jax.random.key(0), 4).batch
    assert batch["obs"].shape == (4, 2) and batch["extra"].label.dtype == jnp.int32
    np.testing.assert_array_equal(batch["extra"].obs, 2.0)


# ----------------------------------------------------------------------------- sampling


def test_sample_shapes_for_int_and_tuple_batch_sizes():
    state = add_many(replay.init(10, example_item()), 2, 3)
    batch = replay.sample(state, jax.random.key(0), 5).batch
    assert batch.obs.shape == (5, OBS_DIM) and batch.reward.shape == (5,)
    batch = replay.sample(state, jax.random.key(0), (4, 6)).batch
    assert batch.obs.shape == (4, 6, OBS_DIM) and batch.action.shape == (4, 6, ACT_DIM)
    assert batch.discount.shape == (4, 6)


def test_sample_returns_only_filled_slots_and_reaches_all_of_them():
    state = replay.init(100, example_item())
    state = replay.add(state, make_items(np.arange(1, 8)))  # ids 1..7; empty slots hold id 0
    batch = replay.sample(state, jax.random.key(42), 7000).batch
    ids = np.asarray(batch.reward).astype(int)
    assert set(ids.tolist()) == set(range(1, 8))
    counts = np.bincount(ids, minlength=8)[1:]
    np.testing.assert_allclose(counts, 1000, rtol=0.15)  # uniform: std ~ 30 per count
    # Every field of a sampled item comes from the same slot.
    assert_items_equal(batch, make_items(ids))


def test_sample_after_wraparound_covers_whole_buffer():
    state = add_many(replay.init(10, example_item()), 9, 3)  # slots hold ids 17..26
    ids = np.asarray(replay.sample(state, jax.random.key(1), (50, 40)).batch.reward).astype(int)
    assert set(ids.ravel().tolist()) == set(range(17, 27))


def test_sample_is_deterministic_for_a_fixed_key():
    state = add_many(replay.init(50, example_item()), 10, 4)
    key = jax.random.key(3)
    assert_items_equal(replay.sample(state, key, 32).batch, replay.sample(state, key, 32).batch)
    other = replay.sample(state, jax.random.key(4), 32).batch
    assert not np.array_equal(other.reward, replay.sample(state, key, 32).batch.reward)


# ----------------------------------------------------------------------------- vmap over seeds


def test_vmap_over_seeds_equals_per_seed_calls():
    num_seeds, capacity = 4, 10
    # Seed s has had s + 1 adds of 3 (different sizes and positions, seed 3 has wrapped).
    per_seed = [
        add_many(replay.init(capacity, example_item()), s + 1, 3, first_id=100 * s)
        for s in range(num_seeds)
    ]
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *per_seed)
    assert stacked.data.obs.shape == (num_seeds, capacity, OBS_DIM)

    items = [make_items(np.arange(1000 * s, 1000 * s + 7)) for s in range(num_seeds)]
    stacked_items = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *items)
    vmapped = jax.vmap(replay.add)(stacked, stacked_items)
    for s in range(num_seeds):
        expected = replay.add(per_seed[s], items[s])
        assert_items_equal(jax.tree_util.tree_map(lambda x: x[s], vmapped), expected)

    keys = jax.random.split(jax.random.key(0), num_seeds)
    batches = jax.vmap(lambda state, key: replay.sample(state, key, (2, 5)).batch)(vmapped, keys)
    for s in range(num_seeds):
        expected = replay.sample(replay.add(per_seed[s], items[s]), keys[s], (2, 5)).batch
        assert_items_equal(jax.tree_util.tree_map(lambda x: x[s], batches), expected)


def test_vmapped_init():
    states = jax.vmap(lambda _: replay.init(6, example_item()))(jnp.arange(4))
    assert states.data.obs.shape == (4, 6, OBS_DIM) and states.size.shape == (4,)


# ----------------------------------------------------------------------------- storage dtypes


def test_bfloat16_observation_storage():
    state = replay.init(8, example_item(), obs_dtype=jnp.bfloat16)
    assert state.data.obs.dtype == jnp.bfloat16 and state.data.next_obs.dtype == jnp.bfloat16
    for name in ("action", "reward", "discount"):
        assert getattr(state.data, name).dtype == jnp.float32

    items = make_items(np.arange(5))
    items = items.replace(
        obs=items.obs / 3.0, next_obs=items.next_obs / 7.0, action=items.action / 3.0
    )  # values bfloat16 cannot hold exactly
    state = replay.add(state, items)
    batch = replay.sample(state, jax.random.key(0), 64).batch
    assert batch.obs.dtype == jnp.float32 and batch.next_obs.dtype == jnp.float32
    ids = np.asarray(batch.reward).astype(int)
    rounded = lambda x: np.asarray(x.astype(jnp.bfloat16).astype(jnp.float32))[ids]
    np.testing.assert_array_equal(batch.obs, rounded(items.obs))
    np.testing.assert_array_equal(batch.next_obs, rounded(items.next_obs))
    assert not np.array_equal(batch.obs, np.asarray(items.obs)[ids])  # it really was rounded
    np.testing.assert_array_equal(batch.action, np.asarray(items.action)[ids])  # untouched


@pytest.mark.parametrize(
    "obs_dtype,expected",
    [
        ("float16", jnp.float16),
        ("float32", jnp.float32),
        ("bfloat16", jnp.bfloat16),
        (None, jnp.float32),
    ],
)
def test_obs_dtype_strings(obs_dtype, expected):
    state = replay.init(
        2,
        {"obs": jnp.zeros(3), "next_obs": jnp.zeros(3), "reward": jnp.zeros(())},
        obs_dtype=obs_dtype,
    )
    assert state.data["obs"].dtype == expected and state.data["next_obs"].dtype == expected
    assert state.data["reward"].dtype == jnp.float32


def test_integer_observations_are_not_cast():
    state = replay.init(2, {"obs": jnp.zeros(4, jnp.uint8)}, obs_dtype="bfloat16")
    assert state.data["obs"].dtype == jnp.uint8


def test_bytes_per_item_humanoid_numbers_from_docstring():
    f32 = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)
    humanoid = Item(obs=f32(348), action=f32(17), reward=f32(), discount=f32(), next_obs=f32(348))
    assert replay.bytes_per_item(humanoid) == (348 * 2 + 17 + 2) * 4 == 2_860
    assert replay.bytes_per_item(humanoid, obs_dtype="float32") == 2_860
    assert replay.bytes_per_item(humanoid, obs_dtype=jnp.bfloat16) == 348 * 2 * 2 + 19 * 4 == 1_468
    assert replay.bytes_per_item(humanoid, obs_dtype="float16") == 1_468
    assert round(1_000_000 * replay.bytes_per_item(humanoid) / 1e9, 2) == 2.86
    assert round(1_000_000 * replay.bytes_per_item(humanoid, "bfloat16") / 1e9, 2) == 1.47
    # Matches what init really allocates (small capacity).
    state = replay.init(3, example_item(), obs_dtype="bfloat16")
    allocated = sum(leaf.nbytes for leaf in jax.tree_util.tree_leaves(state.data))
    assert allocated == 3 * replay.bytes_per_item(example_item(), "bfloat16")


def test_write_note_only_for_bfloat16_storage_on_a_cpu():
    # XLA:CPU writes bfloat16 buffers through float32 (benchmarks/replay_write.py measures it).
    for obs_dtype in ("bfloat16", jnp.bfloat16):
        note = replay.uniform.write_note(obs_dtype, "cpu")
        assert note.startswith("warning: replay.obs_dtype=bfloat16 on a CPU") and "float16" in note
    for obs_dtype, platform in [("bfloat16", "gpu"), ("bfloat16", "tpu"), ("float16", "cpu"),
                                ("float32", "cpu"), (None, "cpu")]:
        assert replay.uniform.write_note(obs_dtype, platform) is None


# ----------------------------------------------------------------------------- jit


def test_jit_with_donation_traces_once():
    num_traces = 0

    def counted_add(state, items):
        nonlocal num_traces
        num_traces += 1
        return replay.add(state, items)

    add = jax.jit(counted_add, donate_argnums=0)
    sample = jax.jit(lambda s, k, b: replay.sample(s, k, b).batch, static_argnums=2)
    state = replay.init(10, example_item(), obs_dtype="bfloat16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Some donated buffers were not usable"
        for i in range(25):
            old = state
            state = add(state, make_items(np.arange(3 * i, 3 * i + 3)))
    assert num_traces == 1
    assert old.data.obs.is_deleted()  # the storage was donated, not copied
    assert int(state.position) == 5 and int(state.size) == 10
    np.testing.assert_array_equal(state.data.reward, [70, 71, 72, 73, 74, 65, 66, 67, 68, 69])
    batch = sample(state, jax.random.key(0), (2, 3))
    assert batch.obs.shape == (2, 3, OBS_DIM) and batch.obs.dtype == jnp.float32


def test_add_and_sample_inside_scan():
    def step(state, step_ids):
        state = replay.add(state, make_items(step_ids))
        return state, replay.sample(state, jax.random.key(0), 2).batch.reward

    ids = jnp.arange(21).reshape(7, 3)
    state, rewards = jax.jit(lambda s: jax.lax.scan(step, s, ids))(replay.init(10, example_item()))
    assert int(state.position) == 1 and int(state.size) == 10
    np.testing.assert_array_equal(state.data.reward, [20, 11, 12, 13, 14, 15, 16, 17, 18, 19])
    assert rewards.shape == (7, 2)
    assert np.all(np.asarray(rewards[0]) <= 2)  # first step: only ids 0..2 are in the buffer


# ----------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("capacity", [0, -5, 2.5, True, "10"])
def test_bad_capacity(capacity):
    with pytest.raises(ValueError, match="capacity"):
        replay.init(capacity, example_item())


@pytest.mark.parametrize("obs_dtype", ["float64", "int8", "bf16", 3])
def test_bad_obs_dtype_names_allowed_values(obs_dtype):
    with pytest.raises(ValueError, match="bfloat16, float16, float32"):
        replay.init(4, example_item(), obs_dtype=obs_dtype)
    with pytest.raises(ValueError, match="bfloat16"):
        replay.bytes_per_item(example_item(), obs_dtype=obs_dtype)


def test_add_more_than_capacity_fails_at_trace_time():
    state = replay.init(4, example_item())
    with pytest.raises(ValueError, match="capacity"):
        replay.add(state, make_items(np.arange(5)))
    with pytest.raises(ValueError, match="capacity"):
        jax.jit(replay.add).lower(state, make_items(np.arange(5)))


def test_add_bad_items():
    state = replay.init(4, example_item())
    with pytest.raises(ValueError, match="structure"):
        replay.add(state, {"obs": jnp.zeros((2, OBS_DIM))})
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        replay.add(state, make_items([0, 1]).replace(obs=jnp.zeros((2, 4))))
    with pytest.raises(ValueError, match="leading axis"):
        replay.add(state, make_items([0, 1]).replace(reward=jnp.zeros(3)))
    with pytest.raises(ValueError, match="n="):
        replay.add(state, jax.tree_util.tree_map(lambda x: x[:0], make_items([0])))


def test_sample_bad_batch_size():
    state = replay.add(replay.init(4, example_item()), make_items([0]))
    for batch_size in (0, -1, (4, 0), (), 2.0):
        with pytest.raises(ValueError, match="batch_size"):
            replay.sample(state, jax.random.key(0), batch_size).batch
    with pytest.raises(TypeError, match="static_argnums"):
        jax.jit(replay.sample)(state, jax.random.key(0), 3)


def test_empty_example_rejected():
    with pytest.raises(ValueError, match="leaf"):
        replay.init(4, {})
