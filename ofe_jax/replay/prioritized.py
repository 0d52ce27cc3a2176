"""Proportional prioritised replay (Schaul et al. 2016, Sec. 3.3) on device.

A uniform ring buffer's storage plus a sum tree over its slots: P(i) = p_i^alpha / sum_k p_k^alpha,
and a min tree over the same slots for the importance weights' normaliser. Each tree is one flat
array [2 * L] (L = capacity rounded up to a power of two; node k has children 2k and 2k + 1, the
root is node 1, leaves are nodes L .. 2L - 1).

    state = prioritized.init(capacity, example)
    state = prioritized.add(state, items)                   # new items get the max priority so far
    s = prioritized.sample(state, key, batch_size, beta)    # Sample(batch, weight, info=slots)
    state = prioritized.update(state, s.info, td_abs, alpha, eps)

Sampling is stratified (one draw in each of B equal segments of the total mass, as in the paper).
Importance weights w_i = (size * P(i))^-beta / max_j w_j, normalised by the largest weight in the
buffer, that of the smallest priority: the min tree's root (O(1), not a min over all L leaves).
`ofe_jax.replay.make` binds alpha, eps and the beta schedule into the protocol's
`sample(state, key, B, progress)` and `update(state, info, td_abs)`.

Cost on an accelerator is set by dependent steps (kernel launches), not by arithmetic. Drawing B
samples walks the log2(L) = 20 levels (at 1M) down as one chain of gathers over [B], which XLA
fuses into a few kernels. Writing B priorities walks up: every ancestor of a written leaf is
recomputed from its children (sum = left + right, min = min(left, right)), exactly as a full
bottom-up rebuild would compute it, BLOCK_LEVELS levels per step on a GPU (5 steps at 1M, each
one gather of a [B, 16] block per tree and one scatter per tree). Recomputing rather than adding
leaf deltas to the ancestors keeps the trees bit-equal to their leaves: a scatter-add of deltas
rounds at every ancestor on every write and drifts (simulated: a 1M-leaf float32 root 1.6e-4 off,
relative, after 200k updates of 256), in an unspecified order on a GPU.

Duplicates: a slot named twice in one `update` batch keeps the priority of its LAST occurrence
in the batch (the batch is sorted by slot, stably, and only the last of each run is written).
That is what XLA:CPU's scatter did with duplicate indices before this rule was explicit; on a
GPU the order of a scatter with duplicate indices is unspecified, so the rule makes the result
deterministic. `max_priority` still counts every priority of the batch.
"""

import functools

import flax.struct
import jax
import jax.numpy as jnp

from ofe_jax.replay import uniform

PyTree = uniform.PyTree

# Tree levels recomputed per dependent step of a write, by platform (lax.platform_dependent; the
# results are the same bits on every platform). On a GPU a step is ~3 kernel launches (one
# fusion, one scatter per tree) whatever its size, so 20 levels (1M slots) go in 5 steps of 4:
# 25 kernels per `update` at 1M where a level per step took 42 with one tree (XLA:GPU, H200,
# compiled deviceless; benchmarks/results/per_vectorised_cpu.json). A CPU launches nothing and
# pays per element instead (a block of 4 is ~5x the element work of a level): one per step.
BLOCK_LEVELS = {"cpu": 1, "default": 4}
# Duplicate detection sorts packed int32 keys slot * batch + position while L * batch is below
# this (batch < 2048 at 1M slots), else (slot, position) pairs.
PACKED_KEYS_BELOW = 2**31


@flax.struct.dataclass
class PrioritizedState:
    storage: uniform.ReplayState
    tree: jax.Array  # [2 L] float32 sum tree of p_i^alpha; unused leaves are 0
    max_priority: jax.Array  # [1] float32, largest p_i^alpha written so far (>= 1 at start)
    min_tree: jax.Array  # [2 L] float32 min tree of p_i^alpha over filled slots; others +inf

    @property
    def size(self) -> jax.Array:
        return self.storage.size


def _leaves(capacity: int) -> int:
    return 1 << max(0, (capacity - 1).bit_length())


def _steps(depth: int, block_levels: int) -> list[int]:
    """Levels per step for a walk over `depth` levels: as even as possible, none over
    `block_levels` (17 levels in blocks of 4 -> [4, 4, 3, 3, 3])."""
    count = -(-depth // block_levels)
    return [depth // count + (i < depth % count) for i in range(count)]


def init(capacity: int, example: PyTree, obs_dtype=None) -> PrioritizedState:
    storage = uniform.init(capacity, example, obs_dtype=obs_dtype)
    nodes = 2 * _leaves(capacity)
    return PrioritizedState(storage, jnp.zeros((nodes,), jnp.float32), jnp.ones((1,), jnp.float32),
                            jnp.full((nodes,), jnp.inf, jnp.float32))


def _pick(rows: jax.Array, column: jax.Array) -> jax.Array:
    """rows[i, column[i]] for rows [n, m] (m <= 16), as a masked max: elementwise work that
    fuses, where a gather would be a kernel of its own; exact (one value is kept)."""
    if rows.shape[1] == 1:
        return rows[:, 0]
    mask = column[:, None] == jnp.arange(rows.shape[1], dtype=column.dtype)
    return jnp.max(jnp.where(mask, rows, -jnp.inf), axis=1)


def _recompute_ancestors(tree: jax.Array, min_tree: jax.Array, node: jax.Array,
                         block_levels: int):
    """Both trees with every ancestor of the nodes `node` [n] (leaves just written) recomputed
    from its children. Per step of k levels: the [n, 2^k] block of nodes k levels below each
    touched node's ancestor `top` (current values), reduced pairwise k times; the k values on
    the touched node's path are written. Touched nodes under one `top` gather the same block,
    so where their paths meet they write the same value: the scatter's order does not matter."""
    depth = (tree.shape[0] // 2).bit_length() - 1
    for levels in _steps(depth, block_levels):
        top = node >> levels  # [n]
        block = (top[:, None] << levels) + jnp.arange(1 << levels, dtype=node.dtype)  # [n, 2^k]
        sums, mins = tree[block], min_tree[block]
        path, path_sums, path_mins = [], [], []
        for level in range(1, levels + 1):
            sums = sums[:, 0::2] + sums[:, 1::2]  # [n, 2^(k - level)]: left + right
            mins = jnp.minimum(mins[:, 0::2], mins[:, 1::2])
            ancestor = node >> level
            column = ancestor & ((1 << (levels - level)) - 1)  # [n]: its place in the row
            path.append(ancestor)
            path_sums.append(_pick(sums, column))
            path_mins.append(_pick(mins, column))
        path = jnp.concatenate(path)  # [k n]
        tree = tree.at[path].set(jnp.concatenate(path_sums))
        min_tree = min_tree.at[path].set(jnp.concatenate(path_mins))
        node = top
    return tree, min_tree


def _last_writes(slots: jax.Array, num_leaves: int):
    """(slots sorted, order, last) for a batch of slots [n]: sorted stably (equal slots adjacent,
    in batch order), the permutation that sorts them, and whether each is the last of its run.
    One sort of packed int32 keys slot * n + position where they fit (XLA:CPU sorts one array
    of keys ~4x faster than a keyed pair), else a stable sort of the (slot, position) pairs."""
    n = slots.shape[0]
    position = jnp.arange(n, dtype=jnp.int32)
    if num_leaves * n <= PACKED_KEYS_BELOW:
        key = jax.lax.sort(slots * n + position)
        slots, order = key // n, key % n
    else:
        slots, order = jax.lax.sort((slots, position), num_keys=1, is_stable=True)
    return slots, order, jnp.append(slots[1:] != slots[:-1], True)


def _set_leaves(tree: jax.Array, min_tree: jax.Array, slots: jax.Array, values: jax.Array,
                min_values: jax.Array, unique: bool):
    """Both trees with leaf `slots` [n] set to `values` (sum tree) and `min_values` (min tree)
    and their ancestors recomputed. unique=False: a slot named twice keeps its last value."""
    num_leaves = tree.shape[0] // 2
    slots = slots.astype(jnp.int32)
    target = slots
    if not unique:
        slots, order, last = _last_writes(slots, num_leaves)
        values, min_values = values[order], min_values[order]
        target = jnp.where(last, slots, num_leaves)  # others: node 2L, out of range: dropped
    node = slots + num_leaves  # [n] the written leaves' nodes
    tree = tree.at[target + num_leaves].set(values, mode="drop")
    min_tree = min_tree.at[target + num_leaves].set(min_values, mode="drop")
    branches = {platform: functools.partial(_recompute_ancestors, block_levels=levels)
                for platform, levels in BLOCK_LEVELS.items()}
    return jax.lax.platform_dependent(tree, min_tree, node, **branches)


def add(state: PrioritizedState, items: PyTree) -> PrioritizedState:
    n = jax.tree.leaves(items)[0].shape[0]
    slots = uniform.next_slots(state.storage, n)  # distinct: n <= capacity
    value = jnp.full((n,), state.max_priority[0])
    tree, min_tree = _set_leaves(state.tree, state.min_tree, slots, value, value, unique=True)
    return state.replace(storage=uniform.add(state.storage, items), tree=tree,
                         min_tree=min_tree)


def _find(tree: jax.Array, mass: jax.Array) -> jax.Array:
    """Leaf index whose prefix-sum interval contains `mass` ([B] values in [0, total)): from the
    root, go left if mass < the left child's sum, else right with that sum subtracted (Schaul et
    al. 2016, Appendix B.2.1). A chain of gathers and elementwise ops over [B] that XLA fuses
    into a few kernels (4 for 20 levels on an H200), so it is not blocked like the writes."""
    num_leaves = tree.shape[0] // 2
    node = jnp.ones(mass.shape, jnp.int32)
    for _ in range(num_leaves.bit_length() - 1):
        left = tree[2 * node]
        right = mass >= left
        mass = jnp.where(right, mass - left, mass)
        node = 2 * node + right.astype(jnp.int32)
    return node - num_leaves


def sample(state: PrioritizedState, key: jax.Array, batch_size: int,
           beta: float | jax.Array) -> uniform.Sample:
    """Sample(items [B, ...], importance weights [B], info = slot indices [B])."""
    total = state.tree[1]
    segment = total / batch_size
    mass = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) * segment
    index = jnp.minimum(_find(state.tree, jnp.minimum(mass, total * (1 - 1e-7))),
                        state.size - 1)  # float round-off can never pick an empty slot
    probability = state.tree[state.tree.shape[0] // 2 + index] / total
    min_probability = state.min_tree[1] / total  # the smallest filled slot's P(i)
    size = state.size.astype(jnp.float32)
    weight = (size * probability) ** (-beta) / (size * min_probability) ** (-beta)
    return uniform.Sample(uniform.gather(state.storage, index), weight, index)


def update(state: PrioritizedState, index: jax.Array, td_abs: jax.Array, alpha: float,
           eps: float) -> PrioritizedState:
    """p_i <- (|delta_i| + eps)^alpha for the sampled slots (Schaul et al. 2016, Sec. 3.3); a
    slot drawn twice keeps the priority of its last occurrence (module docstring)."""
    priority = (td_abs + eps) ** alpha
    filled = jnp.where(index < state.size, priority, jnp.inf)  # the min tree skips empty slots
    tree, min_tree = _set_leaves(state.tree, state.min_tree, index, priority, filled,
                                 unique=False)
    return state.replace(tree=tree, min_tree=min_tree,
                         max_priority=jnp.maximum(state.max_priority, jnp.max(priority)))


def beta_schedule(progress: float | jax.Array, beta0: float) -> jax.Array:
    """beta annealed linearly from beta0 to 1 over the run (Schaul et al. 2016, Sec. 3.4);
    progress = fraction of the run done (clipped to [0, 1])."""
    return beta0 + (1.0 - beta0) * jnp.clip(jnp.asarray(progress, jnp.float32), 0.0, 1.0)
