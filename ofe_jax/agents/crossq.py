"""CrossQ (Bhatt et al. 2024, ICLR, "CrossQ: Batch Normalization in Deep Reinforcement Learning
for Greater Sample Efficiency and Simplicity"): SAC without target networks, with Batch
Renormalization in the critic (and the actor), the critic evaluated ONCE on the joint batch of
(s, a) and (s', a') so that its batch statistics cover both halves.

One update (defaults from the paper and the authors' code, adityab/CrossQ):
  a' ~ pi(.|s') from the actor in inference mode (running statistics);
  [Q(s, a), Q(s', a')] = critic_train(concat([phi(s, a), phi(s', a')]))  (updates batch_stats)
  y = r + discount * (min_i sg(Q_i(s', a')) - alpha log pi(a'|s'))
  critic step on Q(s, a) -> y (MSE or HL-Gauss, critic.py);
  every `policy_delay` (3) updates: actor step on alpha log pi - min_i Q_i(s, a~pi) with the
  actor in training mode and the critic in inference mode, then SAC's temperature step.
Adam with beta1 = 0.5 for actor and critic, learning rate 1e-3. Everything else (OFENet, the
critic loss, the temperature loss, mixed precision) is SAC's, shared with sac.py and common.py.
"""

import dataclasses

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from ofe_jax.agents import common
from ofe_jax.agents.common import AgentState, Transition
from ofe_jax.agents.critic import make_value_head, td_abs
from ofe_jax.agents.encoder import Encoder, make_ofenet
from ofe_jax.agents.sac import actor_loss, soft_q_target, tanh_gaussian_act, temperature_step
from ofe_jax.networks import TanhGaussianActor, tanh_gaussian_sample
from ofe_jax.networks.batch_renorm import joint_forward
from ofe_jax.networks.crossq import RenormCritic, RenormTanhGaussianActor, RenormTorso


@flax.struct.dataclass
class CrossQState(AgentState):
    critic_batch_stats: dict
    actor_batch_stats: dict  # {} when the actor has no BatchRenorm
    log_alpha: jax.Array
    alpha_opt_state: object


def _networks(config, action_size, axis_name, outputs, dtype):
    """(critic_train, critic_eval, actor_train, actor_eval) sharing variables pairwise."""
    b, cn, an = config.batch_renorm, config.critic_network, config.network
    renorm = dict(momentum=b.momentum, epsilon=b.epsilon, r_max=b.r_max, d_max=b.d_max,
                  warmup_steps=b.warmup_steps, axis_name=axis_name)
    critic_torso = RenormTorso(cn.kind, cn.units, cn.layers, cn.activation, **renorm)
    critic = lambda train: RenormCritic(critic_torso.mode(train), config.num_critics, outputs,
                                        dtype)
    if b.actor:
        actor_torso = RenormTorso(an.kind, an.units, an.layers, an.activation, **renorm)
        actor = lambda train: RenormTanhGaussianActor(
            action_size, actor_torso.mode(train), config.log_std_min, config.log_std_max, dtype)
    else:
        actor = lambda train: TanhGaussianActor(action_size, an.kind, an.units, an.layers,
                                                an.activation, an.layer_norm,
                                                config.log_std_min, config.log_std_max, dtype)
    return critic(True), critic(False), actor(True), actor(False)


@dataclasses.dataclass(frozen=True)
class _CrossQ:
    """CrossQ's parts; its methods (with the two steps below) are the pure functions `make`
    hands to `common.assemble`."""

    config: ml_collections.ConfigDict
    observation_size: int
    action_size: int
    axis_name: str | None
    head: object
    encoder: Encoder
    critic_train: object
    critic_eval: object
    actor_train: object
    actor_eval: object
    actor_tx: optax.GradientTransformation
    critic_tx: optax.GradientTransformation
    alpha_tx: optax.GradientTransformation

    def init(self, key: jax.Array, ofenet, hp, step, state_key) -> CrossQState:
        actor_key, critic_key = jax.random.split(key)
        v = None if ofenet is None else ofenet.variables
        obs = jnp.zeros((1, self.observation_size))
        action = jnp.zeros((1, self.action_size))
        actor_vars = self.actor_eval.init(actor_key, self.encoder.obs(v, obs))
        critic_vars = self.critic_eval.init(critic_key, self.encoder.obs_action(v, obs, action))
        log_alpha = jnp.log(hp["init_alpha"])
        return CrossQState(
            actor_params=actor_vars["params"], critic_params=critic_vars["params"],
            actor_opt_state=common.init_optimizer(self.actor_tx, actor_vars["params"],
                                                  hp["actor_learning_rate"]),
            critic_opt_state=common.init_optimizer(self.critic_tx, critic_vars["params"],
                                                   hp["critic_learning_rate"]),
            ofenet=ofenet, hparams=hp, step=step, key=state_key,
            critic_batch_stats=critic_vars["batch_stats"],
            actor_batch_stats=actor_vars.get("batch_stats", {}), log_alpha=log_alpha,
            alpha_opt_state=common.init_optimizer(self.alpha_tx, log_alpha,
                                                  hp["alpha_learning_rate"]))

    def actor_variables(self, state: CrossQState) -> dict:
        if not state.actor_batch_stats:
            return {"params": state.actor_params}
        return {"params": state.actor_params, "batch_stats": state.actor_batch_stats}

    def sample(self, actor_out, key):
        mean, log_std = actor_out
        return tanh_gaussian_sample(mean, log_std, key,
                                    common.batch_normal(key, mean.shape, self.axis_name))

    def update(self, state: CrossQState, batch: Transition, weight, step):
        key, next_key, action_key = jax.random.split(state.key, 3)
        alpha = jnp.exp(state.log_alpha)
        state, q_loss, q, target = _critic_step(self, state, batch, weight, alpha, next_key)
        zeros = {"actor_loss": jnp.zeros(()), "alpha_loss": jnp.zeros(()),
                 "entropy": jnp.zeros(())}
        state, actor_metrics = common.every(
            step, self.config.policy_delay,
            lambda s: _actor_and_temperature_step(self, s, batch, alpha, action_key),
            lambda s: (s, zeros), state)
        return state.replace(key=key), {"critic_loss": q_loss, "alpha": alpha,
                                        "q_mean": jnp.mean(q), "td_abs": td_abs(q, target),
                                        **actor_metrics}


def _critic_step(parts: _CrossQ, state: CrossQState, batch: Transition, weight, alpha,
                 next_key):
    """The joint forward of (s, a) and (s', a'), one critic step; (state, loss, q, y)."""
    enc, head = parts.encoder, parts.head
    v = common.ofenet_variables(state)
    next_action, next_log_prob = parts.sample(
        parts.actor_eval.apply(parts.actor_variables(state), enc.obs(v, batch.next_obs)),
        next_key)
    current = enc.obs_action(v, batch.obs, batch.action)
    following = enc.obs_action(v, batch.next_obs, next_action)

    def loss_fn(params):
        (out, out_next), updates = joint_forward(
            lambda x: parts.critic_train.apply(
                {"params": params, "batch_stats": state.critic_batch_stats}, x,
                mutable=["batch_stats"]), current, following, out_axis=1, has_aux=True)
        next_q = jax.lax.stop_gradient(head.q(out_next))  # no target network
        target = jax.lax.stop_gradient(soft_q_target(batch.reward, batch.discount, next_q,
                                                     next_log_prob, alpha))
        return head.loss(out, target, weight), (head.q(out), target,
                                                updates["batch_stats"])

    (loss, (q, target, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.critic_params)
    params, opt_state = common.apply_gradients(parts.critic_tx, state.critic_params,
                                               state.critic_opt_state, grads, parts.axis_name)
    return state.replace(critic_params=params, critic_opt_state=opt_state,
                         critic_batch_stats=stats), loss, q, target


def _actor_and_temperature_step(parts: _CrossQ, state: CrossQState, batch: Transition, alpha,
                                action_key):
    """Actor (training mode; critic in inference mode) and temperature steps."""
    enc, v = parts.encoder, common.ofenet_variables(state)
    critic_vars = {"params": state.critic_params, "batch_stats": state.critic_batch_stats}

    def actor_loss_fn(params):
        variables = {**parts.actor_variables(state), "params": params}
        out, updates = parts.actor_train.apply(variables, enc.obs(v, batch.obs),
                                               mutable=["batch_stats"])
        action, log_prob = parts.sample(out, action_key)
        q_pi = parts.head.q(parts.critic_eval.apply(critic_vars,
                                                    enc.obs_action(v, batch.obs, action)))
        return actor_loss(log_prob, q_pi, alpha), (log_prob,
                                                   updates.get("batch_stats", {}))

    (pi_loss, (log_prob, stats)), grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(
        state.actor_params)
    actor_params, actor_opt_state = common.apply_gradients(
        parts.actor_tx, state.actor_params, state.actor_opt_state, grads, parts.axis_name)
    log_alpha, alpha_opt_state, alpha_loss = temperature_step(
        parts.config, parts.alpha_tx, state, log_prob,
        state.hparams["target_entropy_scale"] * parts.action_size, parts.axis_name)
    state = state.replace(actor_params=actor_params, actor_opt_state=actor_opt_state,
                          actor_batch_stats=stats, log_alpha=log_alpha,
                          alpha_opt_state=alpha_opt_state)
    return state, {"actor_loss": pi_loss, "alpha_loss": alpha_loss,
                   "entropy": -jnp.mean(log_prob)}


def make(config: ml_collections.ConfigDict, observation_size: int, action_size: int,
         axis_name: str | None = None, contact_force_size: int = 0) -> common.Agent:
    dtype = jnp.dtype(config.compute_dtype)
    head = make_value_head(config)
    encoder = Encoder(make_ofenet(config, observation_size, axis_name, contact_force_size,
                                  dtype))
    parts = _CrossQ(config, observation_size, action_size, axis_name, head, encoder,
                    *_networks(config, action_size, axis_name, head.outputs, dtype),
                    common.adam(config.actor_learning_rate, b1=config.adam_b1),
                    common.adam(config.critic_learning_rate, b1=config.adam_b1),
                    common.adam(config.alpha_learning_rate))
    return common.assemble(
        config, observation_size, action_size, encoder,
        common.RLParts(parts.init, parts.update,
                       lambda v, features: parts.actor_eval.apply(v, features),
                       lambda out, key, det, scale, hp: tanh_gaussian_act(out, key, det, scale),
                       parts.actor_variables),
        axis_name)
