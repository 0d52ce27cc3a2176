"""Agent-level invariants: OFENet isolation, gradients through phi_oa, seeds under vmap,
tracing, update_many, and bad input."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _batches import fast_jit, random_batch, tiny_config

from ofe_jax import agents


def _changed(a, b) -> bool:
    return any(not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.parametrize("name", ["sac", "td3"])
def test_rl_losses_never_change_ofenet_but_its_own_update_does(name):
    """update = OFENet step then RL step; pretrain_update = the OFENet step alone. Equal OFENet
    parameters after both show the RL step left them untouched."""
    agent = agents.make(tiny_config(name, ofenet=True), 5, 2)
    state = agent.init(jax.random.PRNGKey(0))
    batch = random_batch(jax.random.PRNGKey(1), 32, 5, 2)
    full_state, _ = fast_jit(agent.update)(state, batch)
    pre_state, metrics = fast_jit(agent.pretrain_update)(state, batch)
    for field in ("params", "batch_stats", "opt_state"):
        jax.tree.map(np.testing.assert_array_equal, getattr(pre_state.ofenet, field),
                     getattr(full_state.ofenet, field))
    assert _changed(state.ofenet.params, pre_state.ofenet.params)
    assert _changed(state.ofenet.batch_stats, pre_state.ofenet.batch_stats)
    assert _changed(state.critic_params, full_state.critic_params)
    assert not _changed(state.critic_params, pre_state.critic_params)
    assert not _changed(state.actor_params, pre_state.actor_params)
    assert int(pre_state.step) == 0 and float(metrics["ofenet_loss"]) > 0


def test_features_block_gradients_to_ofenet_params_but_not_to_the_action():
    agent = agents.make(tiny_config("td3", ofenet=True), 5, 2)
    state = agent.init(jax.random.PRNGKey(0))
    obs = jax.random.normal(jax.random.PRNGKey(1), (8, 5))
    action = jax.random.uniform(jax.random.PRNGKey(2), (8, 2), minval=-1, maxval=1)

    def f(ofenet_params, action):
        variables = {"params": ofenet_params, "batch_stats": state.ofenet.batch_stats}
        return jnp.sum(agent.encoder.obs_action(variables, obs, action) ** 2)

    g_params, g_action = jax.grad(f, argnums=(0, 1))(state.ofenet.params, action)
    assert all(float(jnp.abs(g).max()) == 0.0 for g in jax.tree.leaves(g_params))
    assert float(jnp.abs(g_action).max()) > 0.0


def test_td3_actor_learns_through_phi_oa():
    """TD3's actor loss reaches the actor only through Q(phi_oa(o, mu(o))): a changed actor
    after the first (delayed) update proves a non-zero gradient through phi_oa w.r.t. a."""
    agent = agents.make(tiny_config("td3", ofenet=True), 5, 2)
    state = agent.init(jax.random.PRNGKey(0))
    batch = random_batch(jax.random.PRNGKey(1), 32, 5, 2)
    new_state, metrics = fast_jit(agent.update)(state, batch)
    grads = [np.abs(np.asarray(a) - np.asarray(b)).max() for a, b in
             zip(jax.tree.leaves(state.actor_params), jax.tree.leaves(new_state.actor_params))]
    assert min(grads) > 0.0


@pytest.mark.parametrize("name,ofenet", [("sac", True), ("td3", False)])
def test_vmap_over_seeds_equals_separate_calls(name, ofenet):
    """Seed s of a vmapped call == seed s alone, to float rounding.

    Not bitwise on XLA:CPU: the batched program is fused and laid out differently, so sums round
    differently (1 ulp). Adam's early steps are ~lr * sign(gradient), so a 1-ulp change of a
    near-zero gradient can move a parameter by up to 2 * lr = 6e-4 per update: the parameter
    bound is 3 updates' worth; losses are compared tightly. A seed mix-up moves values by ~1e-1."""
    agent = agents.make(tiny_config(name, ofenet=ofenet, kind="dense"), 5, 2)
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    batches = random_batch(jax.random.PRNGKey(1), 16, 5, 2, leading=(4, 3))  # [seeds, K, B]
    states, metrics = fast_jit(jax.vmap(agent.update_many))(fast_jit(jax.vmap(agent.init))(keys),
                                                            batches)
    single = fast_jit(agent.update_many)
    for s in range(4):
        state_s, metrics_s = single(agent.init(keys[s]), jax.tree.map(lambda x: x[s], batches))
        jax.tree.map(lambda v, o: np.testing.assert_allclose(v[s], o, rtol=0, atol=2e-3),
                     states, state_s)
        jax.tree.map(lambda v, o: np.testing.assert_allclose(v[s], o, rtol=1e-3),
                     metrics, metrics_s)
        np.testing.assert_array_equal(states.key[s], state_s.key)
    # different seeds, different parameters
    kernel = max(jax.tree.leaves(states.actor_params), key=lambda x: x.size)  # not a zero-init bias
    assert np.abs(kernel[0] - kernel[1]).max() > 1e-1


def test_update_many_equals_repeated_update():
    agent = agents.make(tiny_config("sac"), 5, 2)
    state = agent.init(jax.random.PRNGKey(0))
    batches = random_batch(jax.random.PRNGKey(1), 16, 5, 2, leading=(3,))
    many_state, many_metrics = fast_jit(agent.update_many)(state, batches)
    update = fast_jit(agent.update)
    losses, td = [], []
    for i in range(3):
        state, m = update(state, jax.tree.map(lambda x: x[i], batches))
        losses.append(m["critic_loss"])
        td.append(m["td_abs"])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 many_state, state)
    np.testing.assert_allclose(many_metrics["critic_loss"], np.mean(losses), rtol=1e-5)
    np.testing.assert_allclose(many_metrics["td_abs"], np.stack(td), rtol=1e-5, atol=1e-6)
    assert int(many_state.step) == 3


def test_jitted_update_is_traced_once():
    agent = agents.make(tiny_config("td3", ofenet=True), 5, 2)
    traces = []

    def counted(state, batch):
        traces.append(1)
        return agent.update(state, batch)

    update = fast_jit(counted, donate_argnums=0)
    state = agent.init(jax.random.PRNGKey(0))
    for i in range(6):
        state, _ = update(state, random_batch(jax.random.PRNGKey(i), 16, 5, 2))
    assert len(traces) == 1 and int(state.step) == 6


def test_init_eagerly_under_jit_and_under_vmap():
    """agent.init is compiled on its own for compile time when called eagerly
    (ofe_jax/jit_once.py); inside another jit it is inlined (a nested jit may carry no compiler
    options), under vmap batched. All three agree to float rounding."""
    agent = agents.make(tiny_config("td3"), 5, 2)
    key = jax.random.PRNGKey(0)
    eager = agent.init(key)
    jitted = fast_jit(agent.init)(key)  # agent.init's own jit is inlined in it
    batched = jax.vmap(agent.init)(jnp.stack([jax.random.PRNGKey(1), key]))
    for name, other in (("jit", jitted), ("vmap", jax.tree.map(lambda x: x[1], batched))):
        assert jax.tree.structure(other) == jax.tree.structure(eager), name
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7,
                                                             err_msg=name), other, eager)
    assert _changed(eager.actor_params, jax.tree.map(lambda x: x[0], batched.actor_params))


def test_state_holds_only_arrays():
    for name in ("sac", "td3"):
        state = agents.make(tiny_config(name, ofenet=True), 5, 2).init(jax.random.PRNGKey(0))
        assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(state))


@pytest.mark.parametrize("field,value,message", [
    ("network.kind", "resnet", "agent.network.kind must be one of ['mlp', 'dense', 'simba']"),
    ("network.units", 0, "agent.network.units must be an int > 0"),
    ("network.layers", -1, "agent.network.layers must be an int > 0"),
    ("network.activation", "sigmoidal", "agent.network.activation must be one of"),
    ("ofenet.target_dim", 9,
     "agent.ofenet.target_dim must be 'auto', -1 or an int in [1, observation_size=5], got 9"),
    ("ofenet.total_units", 10, "agent.ofenet.total_units must be a positive multiple of ofenet.layers=4"),
    ("tau", 0.0, "agent.tau must be in (0, 1]"),
])
def test_bad_config_values_name_the_field(field, value, message):
    config = agents.default_config("sac")
    config.ofenet.enabled = True
    config.ofenet.layers = 4
    section, _, name = field.rpartition(".")
    (config[section] if section else config)[name] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        agents.make(config, 5, 2)


def test_bad_algorithm_and_sizes():
    with pytest.raises(ValueError, match=r"agent name must be one of \['sac', 'td3', 'crossq'\], got 'ppo'"):
        agents.default_config("ppo")
    config = agents.default_config("td3")
    config.name = "ddpg"
    with pytest.raises(ValueError, match="agent.name must be one of"):
        agents.make(config, 5, 2)
    with pytest.raises(ValueError, match="observation_size must be a positive int"):
        agents.make(agents.default_config("sac"), 0, 2)
    with pytest.raises(ValueError, match="action_size must be a positive int"):
        agents.make(agents.default_config("sac"), 5, -3)
    with pytest.raises(ValueError, match="pretrain_update needs ofenet.enabled=True"):
        agent = agents.make(tiny_config("sac"), 5, 2)
        agent.pretrain_update(agent.init(jax.random.PRNGKey(0)),
                              random_batch(jax.random.PRNGKey(0), 4, 5, 2))


def test_shared_step_keeps_td3_delay_a_real_branch_under_vmap():
    """With one update counter for all seeds passed as `step` (unbatched, as the training loop
    does), the delayed actor update stays a lax.cond under a seeds vmap; with the states' own
    batched counters vmap turns it into a select that runs both branches."""
    agent = agents.make(tiny_config("td3"), 5, 2)
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    batch = random_batch(jax.random.PRNGKey(1), 16, 5, 2, leading=(4,))
    states = fast_jit(jax.vmap(agent.init))(keys)
    shared_step = jnp.zeros((), jnp.int32)
    update = jax.vmap(lambda s, b, t: agent.update(s, b, step=t), in_axes=(0, 0, None))
    assert "cond[" in str(jax.make_jaxpr(update)(states, batch, shared_step))
    assert "cond[" not in str(jax.make_jaxpr(jax.vmap(agent.update))(states, batch))
    # same numbers either way
    a, _ = fast_jit(update)(states, batch, shared_step)
    b, _ = fast_jit(jax.vmap(agent.update))(states, batch)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6), a, b)
