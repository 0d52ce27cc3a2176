"""Twin Delayed DDPG (Fujimoto et al. 2018).

One update: critic step on the clipped double-Q target with target policy smoothing
(Eq. 15 and Alg. 1: a' = clip(mu'(s') + clip(N(0, sigma~), -c, c), -1, 1),
y = r + discount * min_i Q'_i(s', a')); then, every `policy_delay` updates (on update counts
0, d, 2d, ...), the deterministic policy gradient step on -Q_1(s, mu(s)) and Polyak averaging of
the target actor and critics. On the other updates the reported actor_loss is 0.
"""

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from ofe_jax.agents import common
from ofe_jax.agents.common import AgentState, Transition
from ofe_jax.agents.critic import critic_step, make_value_head, td_abs
from ofe_jax.agents.encoder import Encoder, make_ofenet
from ofe_jax.networks import DeterministicActor, EnsembleCritic


@flax.struct.dataclass
class TD3State(AgentState):
    target_critic_params: common.Params
    target_actor_params: common.Params


def smoothed_target_action(target_action: jax.Array, noise: jax.Array, noise_scale: float,
                           noise_clip: float) -> jax.Array:
    """clip(mu'(s') + clip(noise_scale * noise, -noise_clip, noise_clip), -1, 1); noise ~ N(0, 1)."""
    return jnp.clip(target_action + jnp.clip(noise_scale * noise, -noise_clip, noise_clip),
                    -1.0, 1.0)


def clipped_double_q_target(reward: jax.Array, discount: jax.Array,
                            next_q: jax.Array) -> jax.Array:
    """y = r + discount * min_i Q'_i(s', a'); reward, discount [B], next_q [C, B]."""
    return reward + discount * jnp.min(next_q, axis=0)


def actor_loss(q: jax.Array) -> jax.Array:
    """-mean Q_1(s, mu(s)) (TD3 uses the first critic only); q [C, B]."""
    return -jnp.mean(q[0])


def gaussian_act(action, key, deterministic, noise_scale, exploration_noise):
    """mu(s) when deterministic; else clip(mu(s) + sigma N(0, 1), -1, 1) with sigma the
    exploration noise, or noise_scale [...] (per row of obs, or a scalar): Ape-X-style
    per-actor exploration levels."""
    if deterministic:
        return action
    sigma = (exploration_noise if noise_scale is None
             else jnp.asarray(noise_scale, action.dtype)[..., None])
    return jnp.clip(action + sigma * jax.random.normal(key, action.shape), -1.0, 1.0)


def make(config: ml_collections.ConfigDict, observation_size: int, action_size: int,
         axis_name: str | None = None, contact_force_size: int = 0) -> common.Agent:
    net, dtype = config.network, jnp.dtype(config.compute_dtype)
    head = make_value_head(config)
    actor = DeterministicActor(action_size, net.kind, net.units, net.layers, net.activation,
                               net.layer_norm, dtype)
    critic = EnsembleCritic(net.kind, net.units, net.layers, net.activation, net.layer_norm,
                            config.num_critics, head.outputs, dtype)
    encoder = Encoder(make_ofenet(config, observation_size, axis_name, contact_force_size,
                                  dtype))
    actor_tx = common.adam(config.actor_learning_rate)
    critic_tx = common.adam(config.critic_learning_rate)

    def init(key: jax.Array, ofenet, hp, step, state_key) -> TD3State:
        actor_params, critic_params = common.init_actor_critic(
            actor, critic, encoder, ofenet, key, observation_size, action_size)
        return TD3State(
            actor_params=actor_params, critic_params=critic_params,
            actor_opt_state=common.init_optimizer(actor_tx, actor_params,
                                                  hp["actor_learning_rate"]),
            critic_opt_state=common.init_optimizer(critic_tx, critic_params,
                                                   hp["critic_learning_rate"]),
            ofenet=ofenet, hparams=hp, step=step, key=state_key,
            target_critic_params=common.copy_tree(critic_params),
            target_actor_params=common.copy_tree(actor_params))

    def policy(variables, params, obs):
        return actor.apply({"params": params}, encoder.obs(variables, obs))

    def delayed_update(state: TD3State, batch: Transition) -> tuple[TD3State, jax.Array]:
        variables, tau = common.ofenet_variables(state), state.hparams["tau"]

        def actor_loss_fn(params):
            action = policy(variables, params, batch.obs)
            return actor_loss(head.q(critic.apply(
                {"params": state.critic_params}, encoder.obs_action(variables, batch.obs,
                                                                    action))))

        pi_loss, grads = jax.value_and_grad(actor_loss_fn)(state.actor_params)
        actor_params, actor_opt_state = common.apply_gradients(
            actor_tx, state.actor_params, state.actor_opt_state, grads, axis_name)
        state = state.replace(
            actor_params=actor_params, actor_opt_state=actor_opt_state,
            target_actor_params=common.polyak(state.target_actor_params, actor_params, tau),
            target_critic_params=common.polyak(state.target_critic_params,
                                               state.critic_params, tau))
        return state, pi_loss

    def update(state: TD3State, batch: Transition, weight, step) -> tuple[TD3State, dict]:
        key, noise_key = jax.random.split(state.key)
        variables, hp = common.ofenet_variables(state), state.hparams

        # Critic: clipped double-Q with target policy smoothing.
        noise = common.batch_normal(noise_key, batch.action.shape, axis_name)
        next_action = smoothed_target_action(
            policy(variables, state.target_actor_params, batch.next_obs), noise,
            hp["target_noise"], hp["target_noise_clip"])
        next_q = head.q(critic.apply({"params": state.target_critic_params},
                                     encoder.obs_action(variables, batch.next_obs, next_action)))
        target = jax.lax.stop_gradient(
            clipped_double_q_target(batch.reward, batch.discount, next_q))
        state, q_loss, q = critic_step(
            critic, head, critic_tx, state,
            encoder.obs_action(variables, batch.obs, batch.action), target, weight, axis_name)
        state = state.replace(key=key)

        # Delayed actor and target update (a static branch under the training loop's schedule).
        state, pi_loss = common.every(step, config.policy_delay, delayed_update,
                                      lambda s, b: (s, jnp.zeros((), jnp.float32)), state, batch)
        return state, {"critic_loss": q_loss, "actor_loss": pi_loss, "q_mean": jnp.mean(q),
                       "td_abs": td_abs(q, target)}

    def act(action, key, deterministic, noise_scale, hp):
        return gaussian_act(action, key, deterministic, noise_scale,
                            None if hp is None else hp["exploration_noise"])

    return common.assemble(
        config, observation_size, action_size, encoder,
        common.RLParts(init, update, lambda v, features: actor.apply(v, features), act),
        axis_name)
