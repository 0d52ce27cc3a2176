"""One SAC update of ours equals one update of sbx (araffin/sbx, the JAX port of Stable-Baselines3)
on identical parameters, batch and noise, to float rounding. Skipped without sbx (`.[bench]`).

What must agree for this to hold (and is checked): the soft target with the pre-update alpha and
the target critics; the critic step; the actor step on the just-updated critics; the temperature
step in the log-alpha form (softlearning, SB3, sbx) on the actor step's log pi; Polyak averaging
of the target critics. One deliberate difference: sbx's critic loss is half of ours (the sum over
critics of 0.5 x MSE); the minimiser is the same and Adam is invariant to the factor except for
its epsilon, so the parameters agree and the reported losses differ by exactly 2.

Noise: sbx splits its key into 4 (critic step) and 3 (actor step) and draws the policy's noise
from the second and the third; ours splits the state's key into 3. To draw the same noise, sbx's
module sees a `jax` whose `random.split` returns our keys in those positions (nothing else of
sbx or of jax changes)."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _batches import random_batch

from ofe_jax import agents

sbx = pytest.importorskip("sbx")
gymnasium = pytest.importorskip("gymnasium")
sbx_sac = pytest.importorskip("sbx.sac.sac")

# One action dimension: sbx's tfp distribution draws its standard normals as [A, B] and
# transposes, ours as [B, A]; with A = 1 the same key gives the same noise.
OBS, ACT, BATCH = 5, 1, 64


class _Env(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (OBS,), np.float32)
    action_space = gymnasium.spaces.Box(-1.0, 1.0, (ACT,), np.float32)

    def reset(self, seed=None, options=None):
        return np.zeros(OBS, np.float32), {}

    def step(self, action):
        return np.zeros(OBS, np.float32), 0.0, False, False, {}


def _sbx_actor(ours):
    """Our actor params -> sbx's layout (torso Dense_0/1, mean Dense_2, log_std Dense_3)."""
    return {"params": {"Dense_0": ours["MLP_0"]["Dense_0"], "Dense_1": ours["MLP_0"]["Dense_1"],
                       "Dense_2": ours["Dense_0"], "Dense_3": ours["Dense_1"]}}


def _sbx_critic(ours):
    q = ours["Vmap_QNetwork_0"]
    return {"params": {"VmapContinuousCritic_0": {
        "Dense_0": q["MLP_0"]["Dense_0"], "Dense_1": q["MLP_0"]["Dense_1"], "Dense_2": q["Dense_0"]}}}


def _jax_with_keys(critic_noise_key, actor_noise_key):
    """A stand-in for sbx's `jax` module: random.split returns our noise keys where sbx reads
    them (critic step: split(key, 4)[1]; actor step: split(key, 3)[2])."""
    def split(key, num=2):
        keys = jax.random.split(key, num)
        if num == 4:
            return keys.at[1].set(critic_noise_key)
        if num == 3:
            return keys.at[2].set(actor_noise_key)
        return keys

    random = types.SimpleNamespace(**{k: getattr(jax.random, k) for k in dir(jax.random)
                                      if not k.startswith("__")})
    random.split = split
    stand_in = types.SimpleNamespace(**{k: getattr(jax, k) for k in dir(jax)
                                        if not k.startswith("__")})
    stand_in.random = random
    return stand_in


def test_one_sac_update_matches_sbx(monkeypatch):
    config = agents.default_config("sac")  # MLP 256x2, Adam 3e-4, log-alpha temperature loss
    config.init_alpha = 0.2  # at alpha = 1 the two temperature-loss forms coincide
    agent = agents.make(config, OBS, ACT)
    state = agent.init(jax.random.PRNGKey(0))
    batch = random_batch(jax.random.PRNGKey(1), BATCH, OBS, ACT)
    terminated = (batch.discount == 0.0).astype(jnp.float32)
    new_state, metrics = jax.jit(agent.update)(state, batch)

    model = sbx.SAC("MlpPolicy", _Env(), learning_rate=config.actor_learning_rate,
                    gamma=config.gamma, tau=config.tau, verbose=0)
    policy = model.policy
    actor_params, critic_params = _sbx_actor(state.actor_params), _sbx_critic(state.critic_params)
    actor_state = policy.actor_state.replace(
        params=actor_params, opt_state=policy.actor_state.tx.init(actor_params))
    qf_state = policy.qf_state.replace(
        params=critic_params, target_params=_sbx_critic(state.target_critic_params),
        opt_state=policy.qf_state.tx.init(critic_params))
    ent_params = {"log_ent_coef": state.log_alpha}
    ent_state = model.ent_coef_state.replace(params=ent_params,
                                             opt_state=model.ent_coef_state.tx.init(ent_params))
    _, critic_noise_key, actor_noise_key = jax.random.split(state.key, 3)  # ours, see sac.py
    monkeypatch.setattr(sbx_sac, "jax", _jax_with_keys(critic_noise_key, actor_noise_key))
    SAC = sbx_sac.SAC
    qf_state, (qf_loss, alpha), key = SAC.update_critic(
        actor_state, qf_state, ent_state, batch.obs, batch.action, batch.next_obs, batch.reward,
        terminated, jnp.full((BATCH,), config.gamma), jax.random.PRNGKey(7))
    qf_state = SAC.soft_update(config.tau, qf_state)
    actor_state, qf_state, ent_state, actor_loss, ent_loss, _ = SAC.update_actor_and_temperature(
        actor_state, qf_state, ent_state, batch.obs, model.target_entropy, key)

    np.testing.assert_allclose(metrics["critic_loss"], 2.0 * qf_loss, rtol=1e-5)
    np.testing.assert_allclose(metrics["actor_loss"], actor_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["alpha_loss"], ent_loss, atol=1e-7)
    np.testing.assert_allclose(metrics["alpha"], alpha, rtol=1e-6)
    # Parameters after the update. Adam's first step is lr * g / (|g| + eps), eps = 1e-8: ours
    # on g, sbx's on g / 2 (its halved loss), which differ by at most
    # lr * max_x [x / (x + 1) - x / (x + 2)] = 0.172 * lr (x = |g| / eps = sqrt(2)) where a
    # gradient is ~1e-8; everywhere else the two agree to float rounding.
    lr = config.actor_learning_rate
    pairs = [(_sbx_critic(new_state.critic_params), qf_state.params),
             (_sbx_critic(new_state.target_critic_params), qf_state.target_params),
             (_sbx_actor(new_state.actor_params), actor_state.params)]
    diffs = np.concatenate([np.abs(np.asarray(a) - np.asarray(b)).ravel()
                            for ours, theirs in pairs
                            for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs))])
    assert diffs.max() <= 0.172 * lr, diffs.max()
    assert np.mean(diffs > 1e-6) < 0.01, np.mean(diffs > 1e-6)  # the tiny-gradient entries
    print(f"max |ours - sbx| {diffs.max():.2e}; entries > 1e-6: {np.mean(diffs > 1e-6):.2e}")
    np.testing.assert_allclose(new_state.log_alpha, ent_state.params["log_ent_coef"], atol=1e-7)
    # the update did move everything (a comparison of unchanged parameters would prove nothing)
    moved = lambda a, b: max(float(jnp.max(jnp.abs(x - y)))
                             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    assert moved(new_state.critic_params, state.critic_params) > 2e-4
    assert moved(new_state.actor_params, state.actor_params) > 2e-4
    assert abs(float(new_state.log_alpha - state.log_alpha)) > 2e-4
