"""Scaling out with JAX's own SPMD machinery: a `jax.sharding.Mesh` with axes

    seeds  independent runs split across devices; no communication, each device trains its
           own seeds exactly as one device would (up to float rounding of the batched program);
    data   one run's envs, replay and minibatch split across devices; gradients (and OFENet's
           BatchNorm statistics) are averaged with a pmean over this axis only.

The trainer wraps its compiled functions in `shard_map` over the mesh (see train.py). Several
hosts: `initialize()` calls `jax.distributed.initialize` (coordinator from the config or from
the cluster's environment variables) before any device is touched; the mesh then spans the
devices of all processes, orbax writes checkpoints once, and logs come from process 0.
"""

import ml_collections
import numpy as np
import jax
from jax.sharding import Mesh, PartitionSpec as P

SEEDS, DATA = "seeds", "data"


def check(config: ml_collections.ConfigDict, device_count: int | None = None) -> None:
    """Raises ValueError (naming the numbers) for a mesh that cannot hold the run."""
    p = config.parallel
    for field in ("seeds_devices", "data_devices"):
        if isinstance(p[field], bool) or not isinstance(p[field], int) or p[field] < 1:
            raise ValueError(f"parallel.{field} must be an int >= 1, got {p[field]!r}")
    if config.seeds % p.seeds_devices:
        raise ValueError(f"parallel.seeds_devices={p.seeds_devices} does not divide "
                         f"seeds={config.seeds}")
    if config.replay.prioritized and p.data_devices > config.env.num_envs:
        raise ValueError(f"prioritised replay on a data axis of {p.data_devices} devices needs "
                         f"at least as many envs, got env.num_envs={config.env.num_envs}")
    for what, value in (("env.num_envs", config.env.num_envs),
                        ("agent.batch_size", config.agent.batch_size),
                        ("replay.capacity", config.replay.capacity)):
        if value % p.data_devices:
            raise ValueError(f"parallel.data_devices={p.data_devices} does not divide "
                             f"{what}={value}")
    if p.num_processes > 1 and not p.coordinator_address:
        raise ValueError(f"parallel.num_processes={p.num_processes} needs "
                         f"parallel.coordinator_address (host:port of process 0)")
    needed = p.seeds_devices * p.data_devices
    count = jax.device_count() if device_count is None else device_count
    if needed > count:
        raise ValueError(f"parallel.seeds_devices x parallel.data_devices = "
                         f"{p.seeds_devices} x {p.data_devices} = {needed} devices, but only "
                         f"{count} are available")


def initialize(config: ml_collections.ConfigDict) -> None:
    """Multi-host start-up; a no-op for one process."""
    p = config.parallel
    if p.num_processes > 1:
        if not p.coordinator_address:  # checked here too: this runs before validation
            raise ValueError(f"parallel.num_processes={p.num_processes} needs "
                             f"parallel.coordinator_address (host:port of process 0)")
        jax.distributed.initialize(coordinator_address=p.coordinator_address,
                                   num_processes=p.num_processes, process_id=p.process_id)


def make_mesh(config: ml_collections.ConfigDict) -> Mesh | None:
    """The (seeds, data) mesh, or None when the run uses one device."""
    p = config.parallel
    if p.seeds_devices * p.data_devices == 1:
        return None
    devices = np.asarray(jax.devices()[: p.seeds_devices * p.data_devices])
    return Mesh(devices.reshape(p.seeds_devices, p.data_devices), (SEEDS, DATA))


def carry_specs(carry, agent_axes):
    """PartitionSpecs of a training carry: per-seed parts split over `seeds`; env states and
    replay storage (leading [seeds, envs or slots]) also over `data`; shared counters and the
    agent (identical on every data device) replicated over `data`."""
    agent = jax.tree.map(lambda axis, part: jax.tree.map(
        lambda _: P() if axis is None else P(SEEDS), part), agent_axes, carry.agent,
        is_leaf=lambda x: x is None)
    buffer = jax.tree.map(lambda x: P(SEEDS, DATA) if x.ndim >= 2 else P(SEEDS), carry.buffer)
    env = jax.tree.map(lambda _: P(SEEDS, DATA), carry.env)
    return carry.replace(agent=agent, buffer=buffer, env=env, key=P(SEEDS),
                         eval_key=P(SEEDS), step=P())
