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
    """A jitted obs -> env action callable (observations normalised as in training, where it
    normalised them; actions in the env's bounds). `grid`: the member's grid point ({} if
    none)."""

    act: Callable[[jax.Array], jax.Array]
    env_name: str
    seed: int
    step: int
    member: int = 0
    grid: dict = dataclasses.field(default_factory=dict)

    def __call__(self, obs):
        return self.act(jnp.asarray(obs, jnp.float32))


def policy_meta(config: ml_collections.ConfigDict, env, step: int, members: list[int],
                points: list[dict]) -> dict:
    """What rebuilds a run's policies: the agent config, the env and its bounds, whether
    observations are normalised, and each member's seed and grid point."""
    return {"format": 2, "step": int(step), "agent": config.agent.to_dict(),
            "env": {"name": env.name, "observation_size": int(env.observation_size),
                    "action_size": int(env.action_size),
                    "contact_force_size": int(env.contact_force_size),
                    "action_low": [float(x) for x in env.action_low],
                    "action_high": [float(x) for x in env.action_high]},
            "normalize_obs": bool(config.env.normalize_obs),
            "seeds": [int(s) for s in members], "grid": [dict(p) for p in points]}


_META_ENV = {"name": str, "observation_size": int, "action_size": int, "action_low": list,
             "action_high": list}


def _check_meta(checkpoints, step: int, meta) -> dict:
    """meta["env"], once the fields read here are there with their types (the JSON of a
    damaged or hand-edited artifact may parse and still lack them)."""
    problem = None
    if not isinstance(meta, dict) or not isinstance(meta.get("env"), dict):
        problem = "no env"
    elif not isinstance(meta.get("agent"), dict) or not isinstance(meta.get("step"), int):
        problem = "no agent or step"
    elif not (isinstance(meta.get("seeds"), list) and meta["seeds"]):
        problem = "no seeds"
    else:
        wrong = [k for k, kind in _META_ENV.items() if not isinstance(meta["env"].get(k), kind)]
        problem = f"env without {', '.join(wrong)}" if wrong else None
    if problem:
        raise checkpoints.damaged(step, f"policy_meta/metadata has {problem}")
    return meta["env"]


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
        env = _check_meta(checkpoints, step, meta)
        try:
            agent = agents.build(ml_collections.ConfigDict(meta["agent"]),
                                 env["observation_size"], env["action_size"],
                                 contact_force_size=env.get("contact_force_size", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise checkpoints.damaged(step, f"policy_meta/metadata: no agent of this version "
                                            f"of ofe_jax ({type(e).__name__}: {e})"[:150]) from e
        from ofe_jax.training import normalizer

        def one(key):
            stats = (normalizer.init(env["observation_size"]) if meta.get("normalize_obs")
                     else None)
            return {"agent": agent.policy(agent.init(key)), "obs_stats": stats}

        abstract = jax.eval_shape(jax.vmap(one), jnp.zeros((len(meta["seeds"]), 2), jnp.uint32))
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
                                abstract)  # onto this device, whatever devices wrote it
        return meta, agent, checkpoints.restore_policy(abstract, step)
    finally:
        checkpoints.close()


def _loaded(meta: dict, agent, policies, index: int) -> LoadedPolicy:
    from ofe_jax import envs
    from ofe_jax.training import normalizer

    env = meta["env"]
    member = jax.tree.map(lambda x: x[index], policies)
    low = np.asarray(env["action_low"], np.float32)
    high = np.asarray(env["action_high"], np.float32)
    act = jax.jit(lambda obs: envs.scale_action(agent.policy_action(
        member["agent"], normalizer.apply(member["obs_stats"], obs)), low, high))
    grid = meta.get("grid", [{}] * len(meta["seeds"]))[index]
    return LoadedPolicy(act, env["name"], meta["seeds"][index], int(meta["step"]), index, grid)


def load_policy(workdir: str, seed: int | None = None, step: int | None = None,
                member: int | None = None) -> LoadedPolicy:
    """The deterministic policy of `seed` (default: the run's first; with a hyperparameter
    grid, or to pick by position, pass `member` instead) at checkpoint `step` (default: the
    latest), read from the policy artifact alone."""
    meta, agent, policies = _read(workdir, step)
    seeds = list(meta["seeds"])
    if member is None:
        seed = seeds[0] if seed is None else seed
        matches = [i for i, s in enumerate(seeds) if s == seed]
        if not matches:
            raise CheckpointError(f"seed {seed} is not in the run {workdir!r} (seeds {seeds})")
        if len(matches) > 1:
            raise CheckpointError(f"seed {seed} trains at {len(matches)} grid points in "
                                  f"{workdir!r}: choose one with member= (members {matches})")
        member = matches[0]
    if not 0 <= member < len(seeds):
        raise CheckpointError(f"member {member} is not in the run {workdir!r} "
                              f"({len(seeds)} members)")
    return _loaded(meta, agent, policies, member)


def load_policies(workdir: str, step: int | None = None) -> list[LoadedPolicy]:
    """Every member's policy (one per seed, or per (grid point, seed)), from one read."""
    meta, agent, policies = _read(workdir, step)
    return [_loaded(meta, agent, policies, i) for i in range(len(meta["seeds"]))]
