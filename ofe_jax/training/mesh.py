"""Scaling out with JAX's own SPMD machinery: a `jax.sharding.Mesh` with axes

    seeds  independent runs split across devices; no communication, each device trains its
           own seeds exactly as one device would (up to float rounding of the batched program);
    data   one run's envs, replay and minibatch split across devices; gradients (and OFENet's
           BatchNorm statistics) are averaged with a pmean over this axis only.

The trainer wraps its compiled functions in `shard_map` over the mesh whenever the mesh has more
than one device (loop.py); with `data` > 1 the functions always run inside it, so they can use
the axis's collectives unconditionally. Several hosts (multihost.py): `jax.distributed` is
initialized before any device is touched; the mesh then spans the devices of all processes
(`jax.devices()`: process 0's first), orbax writes checkpoints once, and logs come from
process 0. The mesh sizes are checked in `ofe_jax.config.validation.validate_mesh`.
"""

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, PartitionSpec as P

SEEDS, DATA = "seeds", "data"


def make_mesh(config: ml_collections.ConfigDict) -> Mesh | None:
    """The (seeds, data) mesh, or None when the run uses one device."""
    p = config.parallel
    if p.seeds_devices * p.data_devices == 1:
        return None
    devices = np.asarray(jax.devices()[: p.seeds_devices * p.data_devices])
    return Mesh(devices.reshape(p.seeds_devices, p.data_devices), (SEEDS, DATA))


def carry_specs(carry):
    """PartitionSpecs of a training carry: per-seed parts split over `seeds`; env states and
    replay storage (leading [seeds, envs or slots]) also over `data`; the shared counters, the
    log sums and the agents (identical on every data device) replicated over `data`."""
    per_seed = lambda tree: jax.tree.map(lambda _: P(SEEDS), tree)
    buffer = jax.tree.map(lambda x: P(SEEDS, DATA) if x.ndim >= 2 else P(SEEDS), carry.buffer)
    env = jax.tree.map(lambda _: P(SEEDS, DATA), carry.env)
    shared = lambda tree: jax.tree.map(lambda _: P(), tree)
    return carry.replace(agent=per_seed(carry.agent), buffer=buffer, env=env,
                         obs_stats=per_seed(carry.obs_stats), key=P(SEEDS), eval_key=P(SEEDS),
                         step=shared(carry.step), updates=shared(carry.updates),
                         pretrained=shared(carry.pretrained), log=per_seed(carry.log))


def shard(mesh: Mesh, fn, in_specs, out_specs):
    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


def per_device_key(key: jax.Array, axis: str | None) -> jax.Array:
    """A key of this data device's own (envs, sampling); the key itself on one device."""
    if axis is None:
        return key
    return jax.random.fold_in(key, jax.lax.axis_index(axis))


def local_slice(values: jax.Array, axis: str | None, size: int) -> jax.Array:
    """This data device's `size` entries of a global [D * size, ...] array."""
    if axis is None:
        return values
    return jax.lax.dynamic_slice_in_dim(values, jax.lax.axis_index(axis) * size, size)
