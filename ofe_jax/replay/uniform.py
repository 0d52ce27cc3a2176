"""On-device uniform replay buffer: a ring buffer as pure functions in the optax shape.

    state = uniform.init(capacity, example, obs_dtype=None)  # example: ONE item, no batch axis
    state = uniform.add(state, items)                        # items: leading [n], 1 <= n <= capacity
    s = uniform.sample(state, key, batch_size)               # s.batch: leading [batch_size] or [K, B]
    state = uniform.update(state, s.info, td_abs)            # no-op (the protocol's update)

`sample` returns a `Sample(batch, weight, info)` as every buffer of `ofe_jax.replay` does
(weight = 1 here; info = the slot indices). `gather` and `next_slots` are the storage operations
the prioritised buffer shares.

Everything is a pure function of a `ReplayState` pytree, so it can be `jit`-ed (with the state
donated: `jax.jit(replay.add, donate_argnums=0)` updates the storage in place), `vmap`-ed over a
leading seeds axis (one independent buffer per seed), and used inside `lax.scan`. `batch_size` is
a Python int or tuple and must be static under `jit` (`static_argnums=2`).

The stored item is any pytree of arrays, normally an `agents.Transition(obs, action, reward,
discount, next_obs)`. Each leaf gets a `[capacity, ...]` array; `position` is the next write slot
and `size` the number of valid items (both int32 scalars).

Memory. `obs_dtype` (bfloat16 / float16 / float32) sets the storage dtype of the observation
leaves -- every floating-point leaf whose pytree path has a field or key named `obs` or `next_obs`
-- and `sample` casts them back to the example's dtype. Other leaves are stored as given. Per item
(`bytes_per_item`), for Humanoid-v5 (obs 348, action 17, float32 reward and discount):

    float32:        (348 * 2 + 17 + 2) * 4   = 2,860 bytes -> 2.86 GB (2.66 GiB) per 1M items
    bfloat16 obs:   348 * 2 * 2 + 19 * 4     = 1,468 bytes -> 1.47 GB (1.37 GiB) per 1M items

per seed: a vmapped run of S seeds holds S buffers. (Storing next_obs separately doubles the obs
cost; it keeps add/sample trivial and correct across episode boundaries.) bfloat16 keeps 8
mantissa bits (relative rounding error <= 2**-9), float16 keeps 11 bits but overflows above
65504.

Writes are in place (the buffer donated) on GPUs and TPUs for every obs_dtype, and on XLA:CPU for
float32 and float16; XLA:CPU has no bfloat16 scatter, so there it converts each bfloat16 buffer
to float32, writes the rows and converts back: a float32 temporary of the buffer and two passes
over it per write (Humanoid's 1M-item buffer: 1.39 GB of temporaries and 2.2 s per write on a
2-core CPU, against 73 us in float32 or 127 us in float16). `write_note(obs_dtype, platform)`
says so at the start of a run; benchmarks/replay_write.py measures it.

Sampling is uniform with replacement over the filled part [0, size). Sampling from an empty
buffer (size == 0) is the caller's job to avoid -- the trainer samples only after its random-action
steps; the result would be the (zero-initialised) slot 0, not an error, because a jitted function
cannot raise on a traced value.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

PyTree = Any

from ofe_jax.config.choices import OBS_DTYPES

OBS_FIELDS = ("obs", "next_obs")


@struct.dataclass
class Sample:
    """What every buffer's `sample` returns: the items, per-sample weights for the loss
    (importance weights of prioritised replay; ones for uniform replay) and `info` to give back
    to `update` with the new |TD errors| (the slot indices)."""

    batch: PyTree  # leading [*batch_shape]
    weight: jax.Array  # [*batch_shape] float32
    info: jax.Array  # [*batch_shape] int32 slot indices


@struct.dataclass
class ReplayState:
    """Ring-buffer state. Only arrays are pytree nodes.

    Attributes:
      data: the item pytree, every leaf `[capacity, ...]` in its storage dtype.
      position: int32 scalar, the slot the next item is written to.
      size: int32 scalar, the number of valid items (<= capacity).
      sample_dtypes: static; per leaf of `data` (in `tree_leaves` order), the dtype name that
        `sample` returns (the example's dtype), which differs from the storage dtype only for
        observation leaves stored in `obs_dtype`.
    """

    data: PyTree
    position: jax.Array
    size: jax.Array
    sample_dtypes: tuple[str, ...] = struct.field(pytree_node=False, default=())


def _canonical_obs_dtype(obs_dtype) -> np.dtype | None:
    if obs_dtype is None:
        return None
    try:
        dtype = jnp.dtype(obs_dtype)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in OBS_DTYPES:
        raise ValueError(
            f"obs_dtype must be None or one of {', '.join(sorted(OBS_DTYPES))} "
            f"(a string or jnp dtype), got {obs_dtype!r}"
        )
    return dtype


def _key_name(path_entry) -> Any:
    for attr in ("name", "key"):  # GetAttrKey (dataclass / NamedTuple) and DictKey.
        if hasattr(path_entry, attr):
            return getattr(path_entry, attr)
    return None


def _is_obs_path(path) -> bool:
    return any(_key_name(entry) in OBS_FIELDS for entry in path)


def write_note(obs_dtype, platform: str) -> str | None:
    """A one-line note where writes of `obs_dtype` storage are not in place on `platform`
    ("cpu" | "gpu" | "tpu"), else None (see the module docstring, Memory)."""
    if platform == "cpu" and _canonical_obs_dtype(obs_dtype) == np.dtype(jnp.bfloat16):
        return ("warning: replay.obs_dtype=bfloat16 on a CPU: XLA:CPU copies the observation "
                "buffers through float32 on every write (no bfloat16 scatter there; 2.2 s per "
                "write of a 1M-item Humanoid buffer); float16 saves the same memory and is "
                "written in place")
    return None


def _leaf_spec(leaf) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of an example leaf: an array, a ShapeDtypeStruct or a Python scalar."""
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return tuple(leaf.shape), jnp.dtype(leaf.dtype)
    leaf = jnp.asarray(leaf)
    return tuple(leaf.shape), leaf.dtype


def _storage_specs(example: PyTree, obs_dtype) -> tuple[list, list, list, Any]:
    """Shapes, example dtypes and storage dtypes of the leaves of `example`, and its treedef."""
    obs_dtype = _canonical_obs_dtype(obs_dtype)
    path_leaves, treedef = jax.tree_util.tree_flatten_with_path(example)
    if not path_leaves:
        raise ValueError("example must be a pytree with at least one array leaf, got no leaves")
    shapes, dtypes, storage_dtypes = [], [], []
    for path, leaf in path_leaves:
        shape, dtype = _leaf_spec(leaf)
        storage = dtype
        if obs_dtype is not None and _is_obs_path(path) and jnp.issubdtype(dtype, jnp.floating):
            storage = obs_dtype  # Integer observations (e.g. uint8 pixels) are kept as they are.
        shapes.append(shape)
        dtypes.append(dtype)
        storage_dtypes.append(storage)
    return shapes, dtypes, storage_dtypes, treedef


def bytes_per_item(example: PyTree, obs_dtype=None) -> int:
    """Storage bytes of one item (one slot of the buffer), with observations in `obs_dtype`."""
    shapes, _, storage_dtypes, _ = _storage_specs(example, obs_dtype)
    return int(
        sum(
            int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            for shape, dtype in zip(shapes, storage_dtypes)
        )
    )


def init(capacity: int, example: PyTree, obs_dtype=None) -> ReplayState:
    """An empty buffer of `capacity` items shaped like `example` (one item, no batch axis)."""
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity <= 0:
        raise ValueError(f"capacity must be a positive Python int, got {capacity!r}")
    shapes, dtypes, storage_dtypes, treedef = _storage_specs(example, obs_dtype)
    leaves = [
        jnp.zeros((int(capacity),) + shape, dtype)  # [capacity, ...]
        for shape, dtype in zip(shapes, storage_dtypes)
    ]
    return ReplayState(
        data=jax.tree_util.tree_unflatten(treedef, leaves),
        position=jnp.zeros((), jnp.int32),
        size=jnp.zeros((), jnp.int32),
        sample_dtypes=tuple(dtype.name for dtype in dtypes),
    )


def add(state: ReplayState, items: PyTree) -> ReplayState:
    """Writes `n` items (leading axis [n], 1 <= n <= capacity) at slots (position + i) % capacity.

    Items overwrite the oldest ones once the buffer is full. `n` comes from the static shapes, so
    shape errors are raised at trace time.
    """
    data_leaves, data_treedef = jax.tree_util.tree_flatten(state.data)
    item_leaves, item_treedef = jax.tree_util.tree_flatten(items)
    if item_treedef != data_treedef:
        raise ValueError(
            f"items must have the structure of the buffer's example: {data_treedef}, "
            f"got {item_treedef}"
        )
    capacity = data_leaves[0].shape[0]
    n = None
    for stored, item in zip(data_leaves, item_leaves):
        item_shape = jnp.shape(item)
        if len(item_shape) != stored.ndim or item_shape[1:] != stored.shape[1:]:
            raise ValueError(
                f"items leaves must be [n, *item_shape]: expected [n, "
                f"{', '.join(map(str, stored.shape[1:]))}], got {list(item_shape)}"
            )
        if n is None:
            n = item_shape[0]
        elif item_shape[0] != n:
            raise ValueError(
                f"all items leaves must share the leading axis n, got {n} and {item_shape[0]}"
            )
    if not 1 <= n <= capacity:
        raise ValueError(f"add needs 1 <= n <= capacity items, got n={n} with capacity={capacity}")

    slots = next_slots(state, n)  # [n], distinct
    new_leaves = [
        stored.at[slots].set(jnp.asarray(item).astype(stored.dtype), unique_indices=True)
        for stored, item in zip(data_leaves, item_leaves)
    ]
    return state.replace(
        data=jax.tree_util.tree_unflatten(data_treedef, new_leaves),
        position=((state.position + n) % capacity).astype(jnp.int32),
        size=jnp.minimum(state.size + n, capacity).astype(jnp.int32),
    )


def _sample_shape(batch_size) -> tuple[int, ...]:
    shape = batch_size if isinstance(batch_size, (tuple, list)) else (batch_size,)
    for dim in shape:
        if isinstance(dim, jax.Array):
            raise TypeError(
                f"batch_size must be a static Python int or tuple (under jax.jit pass it in "
                f"static_argnums), got an array {dim!r}"
            )
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0:
            raise ValueError(
                f"batch_size must be a positive int or a tuple of them, got {batch_size!r}"
            )
    if not shape:
        raise ValueError("batch_size must be a positive int or a non-empty tuple, got ()")
    return tuple(int(dim) for dim in shape)


def next_slots(state: ReplayState, n: int) -> jax.Array:
    """[n] int32: the slots the next `n` added items go to."""
    capacity = jax.tree.leaves(state.data)[0].shape[0]
    return (state.position + jnp.arange(n, dtype=jnp.int32)) % capacity


def gather(state: ReplayState, index: jax.Array) -> PyTree:
    """The items at slots `index` (any shape), observations cast back to the example's dtype."""
    data_leaves, treedef = jax.tree_util.tree_flatten(state.data)
    sample_dtypes = state.sample_dtypes or tuple(leaf.dtype.name for leaf in data_leaves)
    return jax.tree_util.tree_unflatten(treedef, [
        jnp.take(stored, index, axis=0, mode="clip").astype(dtype)  # [*index.shape, ...]
        for stored, dtype in zip(data_leaves, sample_dtypes)])


def sample(state: ReplayState, key: jax.Array, batch_size, progress=None) -> Sample:
    """Items drawn uniformly with replacement from the filled slots [0, size).

    Args:
      state: a buffer with size >= 1 (sampling an empty buffer is the caller's job to avoid).
      key: PRNG key, consumed.
      batch_size: int B -> leaves [B, ...]; tuple, e.g. (K, B) -> leaves [K, B, ...] (K batches
        for K updates in one scan). Static.
      progress: unused (the protocol's fraction of training done, for schedules).

    Returns:
      Sample(batch with the leading batch axes, weight = ones, info = slot indices);
      observations cast back to the example's dtype.
    """
    del progress
    shape = _sample_shape(batch_size)
    index = jax.random.randint(key, shape, 0, state.size, dtype=jnp.int32)  # [*shape]
    return Sample(gather(state, index), jnp.ones(shape, jnp.float32), index)


def update(state: ReplayState, info: jax.Array, td_abs: jax.Array) -> ReplayState:
    """The protocol's priority update: uniform replay keeps no priorities."""
    del info, td_abs
    return state
