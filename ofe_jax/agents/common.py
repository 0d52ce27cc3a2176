"""What every algorithm shares: the batch and state pytrees, the agent object, the numeric
hyperparameters held in the state, optimisers, Polyak averaging, and the assembly of an
algorithm's RL step with OFENet's auxiliary step (encoder.py) into an `Agent`. The critic's
loss and step are in critic.py.

Actions are in [-1, 1]^A everywhere in the agents; the training loop rescales them to the
environment's bounds. Exploration and target noise are therefore "scaled by the action bound".
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from ofe_jax.agents.encoder import Encoder, ofenet_loss
from ofe_jax.config.choices import GRID_FIELDS
from ofe_jax.jit_once import jit_once

Params = Any
Metrics = dict[str, jax.Array]


@flax.struct.dataclass
class Transition:
    """A batch of transitions; every field has the same leading batch shape.

    discount = gamma * (1 - terminated): 0 at a true termination, gamma otherwise. A time-limit
    truncation is NOT a termination (discount stays gamma and next_obs is the true final obs).
    """

    obs: jax.Array  # [..., obs]
    action: jax.Array  # [..., A], in [-1, 1]
    reward: jax.Array  # [...]
    discount: jax.Array  # [...]
    next_obs: jax.Array  # [..., obs]


def make_transition(obs, action, reward, terminated, next_obs, gamma: float) -> Transition:
    """Builds a Transition with discount = gamma * (1 - terminated)."""
    discount = gamma * (1.0 - jnp.asarray(terminated, jnp.float32))
    return Transition(obs, action, jnp.asarray(reward, jnp.float32), discount, next_obs)


@flax.struct.dataclass
class OFENetState:
    """OFENet's variables and its optimiser (Ota et al. 2020)."""

    params: Params
    batch_stats: Any
    opt_state: Any

    @property
    def variables(self) -> dict:
        return {"params": self.params, "batch_stats": self.batch_stats}


@flax.struct.dataclass
class AgentState:
    """The parts every algorithm has; arrays only. Each algorithm's state (`SACState`,
    `TD3State`, `CrossQState`) adds its own fields. `ofenet` is None when OFENet is disabled.

    `hparams` holds the numeric hyperparameters of `choices.GRID_FIELDS` the algorithm has
    ({"gamma": [], "tau": [], ...}, float32), read from here by the update (learning rates: from
    the optimiser states, set from here at init), so that members of one vmapped program can
    differ in them (hyperparameter grids)."""

    actor_params: Params
    critic_params: Params
    actor_opt_state: Any
    critic_opt_state: Any
    ofenet: OFENetState | None
    hparams: dict
    step: jax.Array  # [] int32: RL updates done so far
    key: jax.Array  # [2] uint32 PRNG key


@flax.struct.dataclass
class Policy:
    """What acting needs, and nothing else: the actor's variables ({"params"}, and
    "batch_stats" where the actor has BatchNorm) and, with OFENet, OFENet's (BatchNorm in
    inference mode). Saved alone as the policy artifact of every checkpoint."""

    actor_variables: dict
    ofenet_variables: dict | None


def ofenet_variables(state: AgentState) -> dict | None:
    return None if state.ofenet is None else state.ofenet.variables


@dataclasses.dataclass(frozen=True)
class Agent:
    """A frozen bundle of pure functions; hyperparameters live in `config`, never in the state.

    init(key, hparams=None) -> state (SACState | TD3State | CrossQState); hparams: {field:
        value} overriding the config's values of `hparams_of(config)` for this state.
    update(state, batch, weight=None, ofenet_batch=None, step=None) -> (state, metrics):
        [OFENet aux step on `ofenet_batch` (default: `batch`), then] one RL step. `weight` [B]:
        optional per-sample weights of the critic loss (e.g. importance weights). `step`: the
        update counter for schedules (TD3's delay); None = state.step. The training loop passes
        one counter shared by all seeds (unbatched under its vmap), so schedule branches stay
        real lax.conds. metrics: scalars, plus "td_abs" [B], the per-sample |TD error| (mean
        over the critics).
    update_many(state, batches) -> (state, metrics): K updates in one lax.scan over batches'
        leading axis; scalar metrics are averaged over the K updates, td_abs is [K, B].
    pretrain_update(state, batch) -> (state, metrics): one OFENet-only step.
    act(state, obs, key, deterministic=False, noise_scale=None) -> action in [-1, 1], for [obs]
        or [N, obs]; noise_scale [N] sets per-row exploration levels (TD3: sigma; SAC: x std).
    policy(state) -> Policy; policy_action(policy, obs) -> the deterministic action.
    """

    config: ml_collections.ConfigDict
    observation_size: int
    action_size: int
    init: Callable[[jax.Array], AgentState]
    update: Callable[..., tuple[AgentState, Metrics]]
    update_many: Callable[[AgentState, Transition], tuple[AgentState, Metrics]]
    pretrain_update: Callable[[AgentState, Transition], tuple[AgentState, Metrics]]
    act: Callable[..., jax.Array]
    policy: Callable[[AgentState], Policy]
    policy_action: Callable[[Policy, jax.Array], jax.Array]
    encoder: "Encoder"


def polyak(target: Params, online: Params, tau: float) -> Params:
    """target <- tau * online + (1 - tau) * target."""
    return jax.tree.map(lambda t, o: tau * o + (1.0 - tau) * t, target, online)


def every(step, period: int, run: Callable, skip: Callable, *operands):
    """run(*operands) on steps 0, period, 2 period, ..., else skip(*operands). A Python int
    `step` (the training loop's static schedule) decides in Python; a traced one with a
    `lax.cond` (the work happens inside the branch)."""
    if isinstance(step, int):
        return (run if step % period == 0 else skip)(*operands)
    return jax.lax.cond(step % period == 0, run, skip, *operands)


def copy_tree(tree: Params) -> Params:
    """A copy with fresh buffers (targets must not alias the online params: donation)."""
    return jax.tree.map(jnp.array, tree)


def hparams_of(config: ml_collections.ConfigDict, overrides: dict | None = None) -> dict:
    """{field: float32 scalar} of the GRID_FIELDS this agent config has, with `overrides`."""
    values = {}
    for field in GRID_FIELDS:
        section, _, name = field.rpartition(".")
        node = config[section] if section else config
        if name in node:
            values[field] = node[name]
    unknown = set(overrides or ()) - set(values)
    if unknown:
        raise ValueError(f"hyperparameters {sorted(unknown)} are not among this agent's "
                         f"{sorted(values)}")
    values.update(overrides or {})
    return {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}


def adam(learning_rate: float, b1: float = 0.9) -> optax.GradientTransformation:
    """Adam whose learning rate lives in its state (set per member by `init_optimizer`)."""
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate, b1=b1)


def init_optimizer(tx: optax.GradientTransformation, params: Params,
                   learning_rate: jax.Array) -> Any:
    """tx's state for params, with this member's learning rate (a copy: a buffer of its own,
    so that the state can be donated)."""
    state = tx.init(params)
    return state._replace(hyperparams={**state.hyperparams,
                                       "learning_rate": jnp.array(learning_rate, copy=True)})


def apply_gradients(tx: optax.GradientTransformation, params: Params, opt_state: Any,
                    grads: Params, axis_name: str | None = None) -> tuple[Params, Any]:
    """One optimiser step; with `axis_name` (data parallelism) the gradients are first averaged
    over that axis, so every device applies the same update."""
    if axis_name is not None:
        grads = jax.lax.pmean(grads, axis_name)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def init_actor_critic(actor, critic, encoder: Encoder, ofenet: OFENetState | None,
                      key: jax.Array, observation_size: int,
                      action_size: int) -> tuple[Params, Params]:
    """Initial (actor_params, critic_params) on the encoder's features of a dummy batch."""
    actor_key, critic_key = jax.random.split(key)
    variables = None if ofenet is None else ofenet.variables
    obs = jnp.zeros((1, observation_size))
    action = jnp.zeros((1, action_size))
    actor_params = actor.init(actor_key, encoder.obs(variables, obs))["params"]
    critic_params = critic.init(critic_key, encoder.obs_action(variables, obs, action))["params"]
    return actor_params, critic_params


def batch_normal(key: jax.Array, shape: tuple[int, ...],
                 axis_name: str | None = None) -> jax.Array:
    """Standard-normal noise for a batch [B, ...]. Under data parallelism (`axis_name`: each
    of D devices holds B of a global batch of D * B) every device draws the global batch's noise
    and keeps its own slice, so D devices see exactly the noise one device would."""
    if axis_name is None:
        return jax.random.normal(key, shape)
    devices = jax.lax.psum(1, axis_name)
    full = jax.random.normal(key, (devices * shape[0], *shape[1:]))
    return jax.lax.dynamic_slice_in_dim(full, jax.lax.axis_index(axis_name) * shape[0],
                                        shape[0])


@dataclasses.dataclass(frozen=True)
class RLParts:
    """What an algorithm module hands to `assemble`.

    init(key, ofenet: OFENetState | None, hparams, step, key_to_keep) -> the algorithm's state.
    update(state, batch, weight, step) -> (state, metrics with "td_abs"); increments nothing.
    actor_output(actor_variables, features) -> the actor network's output (inference mode).
    act(output, key, deterministic, noise_scale, hparams) -> action in [-1, 1].
    actor_variables(state) -> the actor's variables for acting ({"params"} by default).
    """

    init: Callable[..., AgentState]
    update: Callable[..., tuple[AgentState, Metrics]]
    actor_output: Callable[[dict, jax.Array], Any]
    act: Callable[..., jax.Array]
    actor_variables: Callable[[AgentState], dict] = lambda state: {"params": state.actor_params}


def assemble(config: ml_collections.ConfigDict, observation_size: int, action_size: int,
             encoder: Encoder, rl: RLParts, axis_name: str | None = None) -> Agent:
    """Wraps an algorithm's RL parts with OFENet and the shared update plumbing."""
    ofenet = encoder.ofenet
    ofenet_tx = adam(config.ofenet.learning_rate)

    def init(key: jax.Array, hparams: dict | None = None) -> AgentState:
        hp = hparams_of(config, hparams)
        key, ofenet_key, rl_key = jax.random.split(key, 3)
        ofenet_state = None
        if ofenet is not None:
            variables = ofenet.init(ofenet_key, jnp.zeros((1, observation_size)),
                                    jnp.zeros((1, action_size)))
            ofenet_state = OFENetState(variables["params"], variables["batch_stats"],
                                       init_optimizer(ofenet_tx, variables["params"],
                                                      hp["ofenet.learning_rate"]))
        return rl.init(rl_key, ofenet_state, hp, jnp.zeros((), jnp.int32), key)

    def ofenet_step(state: AgentState, batch: Transition) -> tuple[AgentState, Metrics]:
        o = state.ofenet
        (loss, batch_stats), grads = jax.value_and_grad(
            lambda p: ofenet_loss(ofenet, p, o.batch_stats, batch), has_aux=True)(o.params)
        params, opt_state = apply_gradients(ofenet_tx, o.params, o.opt_state, grads, axis_name)
        return state.replace(ofenet=OFENetState(params, batch_stats, opt_state)), {
            "ofenet_loss": loss}

    def update(state: AgentState, batch: Transition, weight: jax.Array | None = None,
               ofenet_batch: Transition | None = None,
               step: jax.Array | None = None) -> tuple[AgentState, Metrics]:
        metrics = {}
        if ofenet is not None:
            state, metrics = ofenet_step(state, batch if ofenet_batch is None else ofenet_batch)
        state, rl_metrics = rl.update(state, batch, weight, state.step if step is None else step)
        return state.replace(step=state.step + 1), {**metrics, **rl_metrics}

    def update_many(state: AgentState, batches: Transition) -> tuple[AgentState, Metrics]:
        state, metrics = jax.lax.scan(lambda s, b: update(s, b), state, batches)
        td = metrics.pop("td_abs")
        return state, {**jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics), "td_abs": td}

    def pretrain_update(state: AgentState, batch: Transition) -> tuple[AgentState, Metrics]:
        if ofenet is None:
            raise ValueError("pretrain_update needs ofenet.enabled=True")
        return ofenet_step(state, batch)

    def policy(state: AgentState) -> Policy:
        return Policy(rl.actor_variables(state), ofenet_variables(state))

    def policy_action(p: Policy, obs: jax.Array) -> jax.Array:
        output = rl.actor_output(p.actor_variables, encoder.obs(p.ofenet_variables, obs))
        return rl.act(output, None, True, None, None)

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool = False,
            noise_scale: jax.Array | None = None) -> jax.Array:
        output = rl.actor_output(rl.actor_variables(state),
                                 encoder.obs(ofenet_variables(state), obs))
        return rl.act(output, key, deterministic, noise_scale, state.hparams)

    # init runs once per state: compiled for compile time (eagerly it would compile each random
    # draw and initialiser separately).
    precise = functools.partial(with_precision, config.get("matmul_precision", "default"))
    return Agent(config, observation_size, action_size, jit_once(init), precise(update),
                 precise(update_many), precise(pretrain_update), precise(act), policy,
                 precise(policy_action), encoder)


def with_precision(precision: str, fn: Callable) -> Callable:
    """fn traced under jax.default_matmul_precision(precision) ("default": fn itself)."""
    if precision == "default":
        return fn

    @functools.wraps(fn)
    def traced(*args, **kwargs):
        with jax.default_matmul_precision(precision):
            return fn(*args, **kwargs)

    return traced
