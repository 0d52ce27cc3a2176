"""Soft Actor-Critic, v2 with automatic temperature (Haarnoja et al. 2018, "Soft Actor-Critic
Algorithms and Applications").

One update: critic step on the soft Bellman target (Eq. 5-7), actor step on
E[alpha log pi(a|s) - min_i Q_i(s, a)] (Eq. 10, reparameterised), temperature step on log alpha,
then Polyak averaging of the target critics. The actor and temperature use the critic just
updated; the temperature step uses the actor's log pi of the actor step (before it). The
temperature objective is `temperature_loss`: "log_alpha" (default) minimises
-log alpha * E[log pi + target_entropy] as the SAC authors' code (softlearning), SB3 and sbx
do; "alpha" minimises Eq. 18 literally, -alpha * E[...]. Both have their minimum where the
entropy meets its target; under Adam they differ while alpha changes by orders of magnitude
(the "alpha" gradient is scaled by alpha). The critic loss (critic.py) is the sum over the
critics of the mean squared TD error (sbx and SB3 halve it: the same minimiser, and Adam is
invariant to the factor but for its epsilon), or HL-Gauss's cross-entropy.
"""

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from ofe_jax.agents import common
from ofe_jax.agents.common import AgentState, Transition
from ofe_jax.agents.critic import critic_step, make_value_head, td_abs
from ofe_jax.agents.encoder import Encoder, make_ofenet
from ofe_jax.networks import (EnsembleCritic, TanhGaussianActor, tanh_gaussian_mode,
                              tanh_gaussian_sample)


@flax.struct.dataclass
class SACState(AgentState):
    target_critic_params: common.Params
    log_alpha: jax.Array  # [] log of the temperature
    alpha_opt_state: object


def soft_q_target(reward: jax.Array, discount: jax.Array, next_q: jax.Array,
                  next_log_prob: jax.Array, alpha: jax.Array) -> jax.Array:
    """y = r + discount * (min_i Q'_i(s', a') - alpha * log pi(a'|s')), a' ~ pi(.|s').

    reward, discount, next_log_prob: [B]; next_q: [C, B]. Returns [B].
    """
    return reward + discount * (jnp.min(next_q, axis=0) - alpha * next_log_prob)


def actor_loss(log_prob: jax.Array, q: jax.Array, alpha: jax.Array) -> jax.Array:
    """mean(alpha * log pi(a|s) - min_i Q_i(s, a)); log_prob [B], q [C, B]."""
    return jnp.mean(alpha * log_prob - jnp.min(q, axis=0))


def temperature_loss(log_alpha: jax.Array, log_prob: jax.Array, target_entropy: float,
                     form: str = "log_alpha") -> jax.Array:
    """-log_alpha * mean(log pi + target_entropy) ("log_alpha": softlearning, SB3, sbx) or
    -alpha * mean(log pi + target_entropy) ("alpha": Eq. 18); gradient w.r.t. log alpha only."""
    gap = jnp.mean(jax.lax.stop_gradient(log_prob) + target_entropy)
    return -(log_alpha if form == "log_alpha" else jnp.exp(log_alpha)) * gap


def tanh_gaussian_act(output, key, deterministic, noise_scale):
    """SAC's action from the actor's (mean, log_std): tanh(mean) when deterministic; else a
    sample, noise_scale [...] (per row of obs, or a scalar) multiplying the policy's std: the
    optional per-actor exploration level of Ape-X-style collection (None = plain SAC)."""
    mean, log_std = output
    if deterministic:
        return tanh_gaussian_mode(mean)
    if noise_scale is not None:
        log_std = log_std + jnp.log(jnp.asarray(noise_scale, mean.dtype))[..., None]
    return tanh_gaussian_sample(mean, log_std, key)[0]


def temperature_step(config, tx, state, log_prob, target_entropy, axis_name):
    """One step of log alpha on the actor step's log pi: (log_alpha, opt_state, loss)."""
    loss, grad = jax.value_and_grad(temperature_loss)(state.log_alpha, log_prob,
                                                      target_entropy, config.temperature_loss)
    log_alpha, opt_state = common.apply_gradients(tx, state.log_alpha, state.alpha_opt_state,
                                                  grad, axis_name)
    return log_alpha, opt_state, loss


def make(config: ml_collections.ConfigDict, observation_size: int, action_size: int,
         axis_name: str | None = None, contact_force_size: int = 0) -> common.Agent:
    net, dtype = config.network, jnp.dtype(config.compute_dtype)
    head = make_value_head(config)
    actor = TanhGaussianActor(action_size, net.kind, net.units, net.layers, net.activation,
                              net.layer_norm, config.log_std_min, config.log_std_max, dtype)
    critic = EnsembleCritic(net.kind, net.units, net.layers, net.activation, net.layer_norm,
                            config.num_critics, head.outputs, dtype)
    encoder = Encoder(make_ofenet(config, observation_size, axis_name, contact_force_size,
                                  dtype))
    actor_tx = common.adam(config.actor_learning_rate)
    critic_tx = common.adam(config.critic_learning_rate)
    alpha_tx = common.adam(config.alpha_learning_rate)

    def init(key: jax.Array, ofenet, hp, step, state_key) -> SACState:
        actor_params, critic_params = common.init_actor_critic(
            actor, critic, encoder, ofenet, key, observation_size, action_size)
        log_alpha = jnp.log(hp["init_alpha"])
        return SACState(
            actor_params=actor_params, critic_params=critic_params,
            actor_opt_state=common.init_optimizer(actor_tx, actor_params,
                                                  hp["actor_learning_rate"]),
            critic_opt_state=common.init_optimizer(critic_tx, critic_params,
                                                   hp["critic_learning_rate"]),
            ofenet=ofenet, hparams=hp, step=step, key=state_key,
            target_critic_params=common.copy_tree(critic_params), log_alpha=log_alpha,
            alpha_opt_state=common.init_optimizer(alpha_tx, log_alpha,
                                                  hp["alpha_learning_rate"]))

    def policy_sample(variables, params, obs, key):
        """Reparameterised sample for a training batch (noise consistent across devices)."""
        mean, log_std = actor.apply({"params": params}, encoder.obs(variables, obs))
        return tanh_gaussian_sample(mean, log_std, key,
                                    common.batch_normal(key, mean.shape, axis_name))

    def update(state: SACState, batch: Transition, weight, step) -> tuple[SACState, dict]:
        del step  # SAC has no schedule
        key, next_action_key, action_key = jax.random.split(state.key, 3)
        alpha = jnp.exp(state.log_alpha)
        variables = common.ofenet_variables(state)

        # Critic: soft Bellman regression on the target critics.
        next_action, next_log_prob = policy_sample(variables, state.actor_params, batch.next_obs,
                                                   next_action_key)
        next_q = head.q(critic.apply({"params": state.target_critic_params},
                                     encoder.obs_action(variables, batch.next_obs, next_action)))
        target = jax.lax.stop_gradient(
            soft_q_target(batch.reward, batch.discount, next_q, next_log_prob, alpha))  # [B]
        state, q_loss, q = critic_step(
            critic, head, critic_tx, state,
            encoder.obs_action(variables, batch.obs, batch.action), target, weight, axis_name)

        # Actor: reparameterised, through phi_oa w.r.t. the action when OFENet is on.
        def actor_loss_fn(params):
            action, log_prob = policy_sample(variables, params, batch.obs, action_key)
            q_pi = head.q(critic.apply({"params": state.critic_params},
                                       encoder.obs_action(variables, batch.obs, action)))
            return actor_loss(log_prob, q_pi, alpha), log_prob

        (pi_loss, log_prob), actor_grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(
            state.actor_params)
        actor_params, actor_opt_state = common.apply_gradients(
            actor_tx, state.actor_params, state.actor_opt_state, actor_grads, axis_name)
        log_alpha, alpha_opt_state, alpha_loss = temperature_step(
            config, alpha_tx, state, log_prob,
            state.hparams["target_entropy_scale"] * action_size, axis_name)
        state = state.replace(
            actor_params=actor_params, actor_opt_state=actor_opt_state,
            target_critic_params=common.polyak(state.target_critic_params, state.critic_params,
                                               state.hparams["tau"]),
            log_alpha=log_alpha, alpha_opt_state=alpha_opt_state, key=key)
        metrics = {"critic_loss": q_loss, "actor_loss": pi_loss, "alpha_loss": alpha_loss,
                   "alpha": alpha, "entropy": -jnp.mean(log_prob), "q_mean": jnp.mean(q),
                   "td_abs": td_abs(q, target)}
        return state, metrics

    return common.assemble(
        config, observation_size, action_size, encoder,
        common.RLParts(init, update, lambda v, features: actor.apply(v, features),
                       lambda out, key, det, scale, hp: tanh_gaussian_act(out, key, det, scale)),
        axis_name)
