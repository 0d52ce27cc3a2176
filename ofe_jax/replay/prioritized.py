"""Proportional prioritised replay (Schaul et al. 2016, Sec. 3.3) on device.

A uniform ring buffer's storage plus a sum tree over its slots: P(i) = p_i^alpha / sum_k p_k^alpha.
The tree is one flat array [2 * L] (L = capacity rounded up to a power of two; node k has
children 2k and 2k + 1, the root is node 1, leaves are nodes L .. 2L - 1), so both writing B
priorities and drawing B samples cost O(B log L) in log2(L) vectorised steps: 20 steps at 1M.

    state = prioritized.init(capacity, example)
    state = prioritized.add(state, items)                   # new items get the max priority so far
    s = prioritized.sample(state, key, batch_size, beta)    # Sample(batch, weight, info=slots)
    state = prioritized.update(state, s.info, td_abs, alpha, eps)

Sampling is stratified (one draw in each of B equal segments of the total mass, as in the paper).
Importance weights w_i = (size * P(i))^-beta / max_j w_j, normalised by the largest weight in the
buffer (that of the smallest priority, one O(capacity) reduction per batch). `ofe_jax.replay.make`
binds alpha, eps and the beta schedule into the protocol's `sample(state, key, B, progress)` and
`update(state, info, td_abs)`.
"""

import flax.struct
import jax
import jax.numpy as jnp

from ofe_jax.replay import uniform

PyTree = uniform.PyTree


@flax.struct.dataclass
class PrioritizedState:
    storage: uniform.ReplayState
    tree: jax.Array  # [2 L] float32 sum tree of p_i^alpha; unused leaves are 0
    max_priority: jax.Array  # [1] float32, largest p_i^alpha written so far (>= 1 at start)

    @property
    def size(self) -> jax.Array:
        return self.storage.size


def _leaves(capacity: int) -> int:
    return 1 << max(0, (capacity - 1).bit_length())


def init(capacity: int, example: PyTree, obs_dtype=None) -> PrioritizedState:
    storage = uniform.init(capacity, example, obs_dtype=obs_dtype)
    return PrioritizedState(storage, jnp.zeros((2 * _leaves(capacity),), jnp.float32),
                            jnp.ones((1,), jnp.float32))


def _set_leaves(tree: jax.Array, slots: jax.Array, values: jax.Array) -> jax.Array:
    """Writes leaf values and recomputes their ancestors, level by level."""
    num_leaves = tree.shape[0] // 2
    node = slots + num_leaves
    tree = tree.at[node].set(values)
    for _ in range(num_leaves.bit_length() - 1):
        node = node // 2
        tree = tree.at[node].set(tree[2 * node] + tree[2 * node + 1])
    return tree


def add(state: PrioritizedState, items: PyTree) -> PrioritizedState:
    n = jax.tree.leaves(items)[0].shape[0]
    slots = uniform.next_slots(state.storage, n)
    tree = _set_leaves(state.tree, slots, jnp.full((n,), state.max_priority[0]))
    return state.replace(storage=uniform.add(state.storage, items), tree=tree)


def _find(tree: jax.Array, mass: jax.Array) -> jax.Array:
    """Leaf index whose prefix-sum interval contains `mass` ([B] values in [0, total))."""
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
    num_leaves = state.tree.shape[0] // 2
    leaves = state.tree[num_leaves:]
    probability = leaves[index] / total
    filled = jnp.arange(num_leaves) < state.size
    min_probability = jnp.min(jnp.where(filled, leaves, jnp.inf)) / total
    size = state.size.astype(jnp.float32)
    weight = (size * probability) ** (-beta) / (size * min_probability) ** (-beta)
    return uniform.Sample(uniform.gather(state.storage, index), weight, index)


def update(state: PrioritizedState, index: jax.Array, td_abs: jax.Array, alpha: float,
           eps: float) -> PrioritizedState:
    """p_i <- (|delta_i| + eps)^alpha for the sampled slots (a slot drawn twice keeps one)."""
    priority = (td_abs + eps) ** alpha
    return state.replace(tree=_set_leaves(state.tree, index, priority),
                         max_priority=jnp.maximum(state.max_priority, jnp.max(priority)))


def beta_schedule(progress: float | jax.Array, beta0: float) -> jax.Array:
    """beta annealed linearly from beta0 to 1 over the run (Schaul et al. 2016, Sec. 3.4);
    progress = fraction of the run done (clipped to [0, 1])."""
    return beta0 + (1.0 - beta0) * jnp.clip(jnp.asarray(progress, jnp.float32), 0.0, 1.0)
