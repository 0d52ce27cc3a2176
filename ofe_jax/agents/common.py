"""What SAC and TD3 share: the state and batch pytrees, the agent object, optimisers, Polyak
averaging, the critic regression loss, and OFENet (features for the RL networks and its
auxiliary update).

Actions are in [-1, 1]^A everywhere in the agents; the training loop rescales them to the
environment's bounds. Exploration and target noise are therefore "scaled by the action bound".
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from ofe_jax.networks import OFENet

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
    # Importance-sampling weights of prioritised replay, [...]; None = uniform replay. With
    # weights, the critic loss is weighted and the update's metrics carry "td_abs" [B], the
    # per-sample |TD error| (mean over the critics) for the new priorities.
    weight: jax.Array | None = None


def make_transition(obs, action, reward, terminated, next_obs, gamma: float) -> Transition:
    """Builds a Transition with discount = gamma * (1 - terminated)."""
    discount = gamma * (1.0 - jnp.asarray(terminated, jnp.float32))
    return Transition(obs, action, jnp.asarray(reward, jnp.float32), discount, next_obs)


@flax.struct.dataclass
class AgentState:
    """Everything that changes during training; arrays only. Unused parts are None
    (SAC has no target actor, TD3 no temperature, no OFENet fields when it is disabled)."""

    actor_params: Params
    critic_params: Params
    target_critic_params: Params
    actor_opt_state: Any
    critic_opt_state: Any
    target_actor_params: Params = None  # TD3
    log_alpha: jax.Array | None = None  # SAC: log of the temperature, []
    alpha_opt_state: Any = None  # SAC
    ofenet_params: Params = None
    ofenet_batch_stats: Any = None
    ofenet_opt_state: Any = None
    step: jax.Array = None  # [] int32: RL updates done so far
    key: jax.Array = None  # [2] uint32 PRNG key


def seeds_axes() -> AgentState:
    """`jax.vmap` in/out axes for AgentStates stacked over a leading seeds axis whose update
    counter `step` is ONE scalar shared by all seeds (the training loop updates every seed in
    lockstep). With `step` unbatched, schedules that branch on it (TD3's delayed actor) stay
    real `lax.cond`s under vmap instead of becoming `select`s that run both branches."""
    return AgentState(actor_params=0, critic_params=0, target_critic_params=0,
                      actor_opt_state=0, critic_opt_state=0, target_actor_params=0,
                      log_alpha=0, alpha_opt_state=0, ofenet_params=0, ofenet_batch_stats=0,
                      ofenet_opt_state=0, step=None, key=0)


@dataclasses.dataclass(frozen=True)
class Agent:
    """A frozen bundle of pure functions; hyperparameters live in `config`, never in the state.

    init(key) -> AgentState
    update(state, batch) -> (state, metrics): [OFENet aux step, then] one RL step.
    update_many(state, batches) -> (state, metrics): K updates in one lax.scan over batches'
        leading axis; metrics are averaged over the K updates.
    pretrain_update(state, batch) -> (state, metrics): one OFENet-only step.
    act(state, obs, key, deterministic=False, noise_scale=None) -> action in [-1, 1], for [obs]
        or [N, obs]; noise_scale [N] sets per-row exploration levels (TD3: sigma; SAC: x std).
    """

    config: ml_collections.ConfigDict
    observation_size: int
    action_size: int
    init: Callable[[jax.Array], AgentState]
    update: Callable[[AgentState, Transition], tuple[AgentState, Metrics]]
    update_many: Callable[[AgentState, Transition], tuple[AgentState, Metrics]]
    pretrain_update: Callable[[AgentState, Transition], tuple[AgentState, Metrics]]
    act: Callable[..., jax.Array]
    encoder: "Encoder"


def polyak(target: Params, online: Params, tau: float) -> Params:
    """target <- tau * online + (1 - tau) * target."""
    return jax.tree.map(lambda t, o: tau * o + (1.0 - tau) * t, target, online)


def copy_tree(tree: Params) -> Params:
    """A copy with fresh buffers (targets must not alias the online params: donation)."""
    return jax.tree.map(jnp.array, tree)


def critic_loss(q: jax.Array, target: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """Sum over the ensemble of the mean (importance-weighted, if `weight` [B] is given) squared
    TD error. q: [C, B], target: [B]."""
    squared = jnp.square(q - target[None])
    if weight is not None:
        squared = squared * weight[None]
    return jnp.sum(jnp.mean(squared, axis=-1))


def td_metrics(q: jax.Array, target: jax.Array, batch: "Transition") -> dict:
    """{"td_abs": [B] mean over critics of |q - target|} when the batch is prioritised."""
    if batch.weight is None:
        return {}
    return {"td_abs": jnp.mean(jnp.abs(q - target[None]), axis=0)}


def apply_gradients(tx: optax.GradientTransformation, params: Params, opt_state: Any,
                    grads: Params, axis_name: str | None = None) -> tuple[Params, Any]:
    """One optimiser step; with `axis_name` (data parallelism) the gradients are first averaged
    over that axis, so every device applies the same update."""
    if axis_name is not None:
        grads = jax.lax.pmean(grads, axis_name)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


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
class Encoder:
    """The inputs of the RL networks: raw (obs, concat(obs, a)) or OFENet's (phi_o, phi_oa).

    OFENet's parameters are behind stop_gradient (RL losses never change them) and BatchNorm is
    in inference mode; the action is NOT behind stop_gradient, so the actor's gradient flows
    through phi_oa with respect to the action.
    """

    ofenet: OFENet | None

    def _variables(self, state: AgentState) -> dict:
        return {"params": jax.lax.stop_gradient(state.ofenet_params),
                "batch_stats": jax.lax.stop_gradient(state.ofenet_batch_stats)}

    def obs(self, state: AgentState, obs: jax.Array) -> jax.Array:
        if self.ofenet is None:
            return obs
        return self.ofenet.apply(self._variables(state), obs, method=OFENet.phi_o)

    def obs_action(self, state: AgentState, obs: jax.Array, action: jax.Array) -> jax.Array:
        if self.ofenet is None:
            return jnp.concatenate([obs, action], axis=-1)
        return self.ofenet.apply(self._variables(state), obs, action, method=OFENet.phi_oa)


def make_ofenet(config: ml_collections.ConfigDict, observation_size: int,
                axis_name: str | None = None) -> OFENet | None:
    if not config.ofenet.enabled:
        return None
    target_dim = config.ofenet.target_dim if config.ofenet.target_dim > 0 else observation_size
    return OFENet(target_dim=target_dim, total_units=config.ofenet.total_units,
                  layers=config.ofenet.layers, activation=config.ofenet.activation,
                  batch_norm_momentum=config.ofenet.batch_norm_momentum,
                  batch_norm_epsilon=config.ofenet.batch_norm_epsilon,
                  batch_norm_axis_name=axis_name)


def ofenet_loss(ofenet: OFENet, params: Params, batch_stats: Any,
                batch: Transition) -> tuple[jax.Array, Any]:
    """Auxiliary loss: MSE of the predicted next_obs[:target_dim] (BatchNorm in train mode).
    Returns (loss, updated batch_stats)."""
    pred, updates = ofenet.apply({"params": params, "batch_stats": batch_stats}, batch.obs,
                                 batch.action, train=True, mutable=["batch_stats"])
    target = batch.next_obs[..., : ofenet.target_dim]
    return jnp.mean(jnp.square(pred - target)), updates["batch_stats"]


def assemble(config: ml_collections.ConfigDict, observation_size: int, action_size: int,
             encoder: Encoder, init_rl: Callable, rl_update: Callable, act: Callable,
             axis_name: str | None = None) -> Agent:
    """Wraps an algorithm's RL parts with OFENet and the shared update plumbing.

    init_rl(key, state) -> state with the RL fields filled (OFENet fields already set).
    rl_update(state, batch) -> (state, metrics), incrementing nothing.
    """
    ofenet = encoder.ofenet
    ofenet_tx = optax.adam(config.ofenet.learning_rate)

    def init(key: jax.Array) -> AgentState:
        key, ofenet_key, rl_key = jax.random.split(key, 3)
        state = AgentState(None, None, None, None, None, step=jnp.zeros((), jnp.int32), key=key)
        if ofenet is not None:
            variables = ofenet.init(ofenet_key, jnp.zeros((1, observation_size)),
                                    jnp.zeros((1, action_size)))
            state = state.replace(ofenet_params=variables["params"],
                                  ofenet_batch_stats=variables["batch_stats"],
                                  ofenet_opt_state=ofenet_tx.init(variables["params"]))
        return init_rl(rl_key, state)

    def ofenet_step(state: AgentState, batch: Transition) -> tuple[AgentState, Metrics]:
        (loss, batch_stats), grads = jax.value_and_grad(
            lambda p: ofenet_loss(ofenet, p, state.ofenet_batch_stats, batch), has_aux=True
        )(state.ofenet_params)
        params, opt_state = apply_gradients(ofenet_tx, state.ofenet_params,
                                            state.ofenet_opt_state, grads, axis_name)
        state = state.replace(ofenet_params=params, ofenet_batch_stats=batch_stats,
                              ofenet_opt_state=opt_state)
        return state, {"ofenet_loss": loss}

    def update(state: AgentState, batch: Transition) -> tuple[AgentState, Metrics]:
        metrics = {}
        if ofenet is not None:
            state, metrics = ofenet_step(state, batch)
        state, rl_metrics = rl_update(state, batch)
        return state.replace(step=state.step + 1), {**metrics, **rl_metrics}

    def update_many(state: AgentState, batches: Transition) -> tuple[AgentState, Metrics]:
        state, metrics = jax.lax.scan(update, state, batches)
        return state, jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)

    def pretrain_update(state: AgentState, batch: Transition) -> tuple[AgentState, Metrics]:
        if ofenet is None:
            raise ValueError("pretrain_update needs ofenet.enabled=True")
        return ofenet_step(state, batch)

    return Agent(config, observation_size, action_size, init, update, update_many,
                 pretrain_update, act, encoder)
