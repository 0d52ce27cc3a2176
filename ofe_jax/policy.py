"""Load a trained deterministic policy from a run's policy artifact (checkpoint.py), without
the training carry: a few MB instead of the replay's GB.

    policy = ofe_jax.load_policy("runs/hopper", seed=None)   # the run's first seed
    action = policy(obs)                                     # [obs] or [N, obs] -> env action
"""

import dataclasses
import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ofe_jax.errors import CheckpointError


@dataclasses.dataclass(frozen=True)
class LoadedPolicy:
    """A jitted obs -> env action callable (actions clipped to the env's bounds)."""

    act: Callable[[jax.Array], jax.Array]
    env_name: str
    seed: int
    step: int

    def __call__(self, obs):
        return self.act(jnp.asarray(obs, jnp.float32))


def policy_meta(config: ml_collections.ConfigDict, env, step: int) -> dict:
    """What rebuilds a run's policies: the agent config, the env and its bounds, the seeds."""
    return {"format": 1, "step": int(step), "agent": config.agent.to_dict(),
            "env": {"name": env.name, "observation_size": int(env.observation_size),
                    "action_size": int(env.action_size),
                    "contact_force_size": int(env.contact_force_size),
                    "action_low": [float(x) for x in env.action_low],
                    "action_high": [float(x) for x in env.action_high]},
            "seeds": [config.seed + i for i in range(config.seeds)]}


def _read(workdir: str, step: int | None):
    """(meta, agent, policies [S, ...]) from the policy artifact at `step` (latest if None)."""
    from ofe_jax import agents
    from ofe_jax.checkpoint import Checkpointer

    if not os.path.isfile(os.path.join(workdir, "config.json")):
        raise CheckpointError(f"no config.json in {workdir!r}: not a run directory")
    directory = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(directory):
        raise CheckpointError(f"no checkpoint in {workdir!r}")
    checkpoints = Checkpointer(directory, create=False)
    try:
        step = checkpoints.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {workdir!r}")
        meta = checkpoints.restore_policy_meta(step)
        env = meta["env"]
        agent = agents.build(ml_collections.ConfigDict(meta["agent"]), env["observation_size"],
                             env["action_size"],
                             contact_force_size=env.get("contact_force_size", 0))
        abstract = jax.eval_shape(lambda keys: jax.vmap(
            lambda k: agent.policy(agent.init(k)))(keys),
            jnp.zeros((len(meta["seeds"]), 2), jnp.uint32))
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
                                abstract)  # onto this device, whatever devices wrote it
        return meta, agent, checkpoints.restore_policy(abstract, step)
    finally:
        checkpoints.close()


def _loaded(meta: dict, agent, policies, index: int) -> LoadedPolicy:
    from ofe_jax import envs

    env = meta["env"]
    params = jax.tree.map(lambda x: x[index], policies)
    low = np.asarray(env["action_low"], np.float32)
    high = np.asarray(env["action_high"], np.float32)
    act = jax.jit(lambda obs: envs.scale_action(agent.policy_action(params, obs), low, high))
    return LoadedPolicy(act, env["name"], meta["seeds"][index], int(meta["step"]))


def load_policy(workdir: str, seed: int | None = None, step: int | None = None) -> LoadedPolicy:
    """The deterministic policy of `seed` (default: the run's first) at checkpoint `step`
    (default: the latest), read from the policy artifact alone."""
    meta, agent, policies = _read(workdir, step)
    seeds = list(meta["seeds"])
    seed = seeds[0] if seed is None else seed
    if seed not in seeds:
        raise CheckpointError(f"seed {seed} is not in the run {workdir!r} (seeds {seeds})")
    return _loaded(meta, agent, policies, seeds.index(seed))


def load_policies(workdir: str, step: int | None = None) -> dict[int, LoadedPolicy]:
    """{seed: policy} of every seed of the run, from one read of the artifact."""
    meta, agent, policies = _read(workdir, step)
    return {seed: _loaded(meta, agent, policies, i) for i, seed in enumerate(meta["seeds"])}
