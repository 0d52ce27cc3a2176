"""SimBa torso, Batch Renormalization (CrossQ), HL-Gauss and running observation statistics."""

import math

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ofe_jax.agents import distributional as hl
from ofe_jax.networks.batch_renorm import BatchRenorm, joint_forward
from ofe_jax.networks.simba import SimbaTorso
from ofe_jax.training import normalizer

KEY = jax.random.PRNGKey(0)


def _layer_norm(h, eps=1e-6):
    """Unit-scale, zero-offset LayerNorm over the last axis, in numpy."""
    h = np.asarray(h, np.float64)
    return (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + eps)


# ----------------------------------------------------------------------------------- SimBa


def test_simba_shapes_and_initialisation():
    torso = SimbaTorso(units=16, blocks=2)
    x = jax.random.normal(KEY, (5, 7))
    variables = torso.init(KEY, x)
    assert torso.apply(variables, x).shape == (5, 16)
    p = variables["params"]
    assert set(p) == {"embedding", "block_0", "block_1", "output_norm"}
    assert p["block_0"]["expand"]["kernel"].shape == (16, 64)  # inverted bottleneck, 4x
    assert p["block_0"]["project"]["kernel"].shape == (64, 16)
    # Orthogonal(1) embedding: a 7 x 16 kernel has orthonormal rows.
    kernel = np.asarray(p["embedding"]["kernel"])
    np.testing.assert_allclose(kernel @ kernel.T, np.eye(7), atol=1e-5)
    for block in ("block_0", "block_1"):
        for dense in ("expand", "project"):
            np.testing.assert_array_equal(p[block][dense]["bias"], 0.0)


def test_simba_without_blocks_is_layer_norm_of_the_embedding():
    torso = SimbaTorso(units=8, blocks=0)
    x = jax.random.normal(KEY, (3, 5))
    variables = torso.init(KEY, x)
    emb = variables["params"]["embedding"]
    expected = _layer_norm(np.asarray(x) @ np.asarray(emb["kernel"]) + np.asarray(emb["bias"]))
    np.testing.assert_allclose(torso.apply(variables, x), expected, rtol=1e-5, atol=1e-5)


def test_simba_block_is_identity_when_its_last_dense_is_zero():
    torso = SimbaTorso(units=8, blocks=2)
    x = jax.random.normal(KEY, (3, 5))
    params = flax.core.unfreeze(torso.init(KEY, x))["params"]
    emb = params["embedding"]
    embedding = np.asarray(x) @ np.asarray(emb["kernel"]) + np.asarray(emb["bias"])
    embedding_norm = _layer_norm(embedding)
    # At initialisation the residual branches do contribute ...
    assert np.abs(np.asarray(torso.apply({"params": params}, x)) - embedding_norm).max() > 1e-2
    # ... and with each block's projection zeroed, they add nothing.
    for block in ("block_0", "block_1"):
        params[block]["project"]["kernel"] = jnp.zeros_like(params[block]["project"]["kernel"])
        params[block]["project"]["bias"] = jnp.zeros_like(params[block]["project"]["bias"])
    np.testing.assert_allclose(torso.apply({"params": params}, x), embedding_norm,
                               rtol=1e-5, atol=1e-5)


def test_simba_bfloat16_computation_keeps_float32_params():
    x = jax.random.normal(KEY, (4, 6))
    torso32 = SimbaTorso(units=16, blocks=1)
    torso16 = SimbaTorso(units=16, blocks=1, dtype=jnp.bfloat16)
    variables = torso16.init(KEY, x)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(variables))
    out = jax.jit(torso16.apply)(variables, x)
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(out, np.float32), torso32.apply(variables, x), atol=0.1)


# ------------------------------------------------------------------------ Batch Renormalization

# Three features: batch mean / biased variance (4, 5), (8, 20), (3, 5).
X = jnp.array([[1.0, 10.0, 0.0],
               [3.0, 14.0, 2.0],
               [5.0, 6.0, 4.0],
               [7.0, 2.0, 6.0]])
MU_B, VAR_B = np.array([4.0, 8.0, 3.0]), np.array([5.0, 20.0, 5.0])
# Running statistics chosen so that feature 0 is not clipped, feature 1 hits (r_max, d_max) and
# feature 2 hits (1 / r_max, -d_max).
RA_MEAN, RA_VAR = np.array([3.0, -100.0, 500.0]), np.array([4.0, 0.01, 1000.0])
SCALE, BIAS = np.array([2.0, 1.0, 0.5]), np.array([0.1, 0.0, -1.0])
EPS = 1e-3


def _brn_variables(steps):
    return {"params": {"scale": jnp.asarray(SCALE, jnp.float32),
                       "bias": jnp.asarray(BIAS, jnp.float32)},
            "batch_stats": {"mean": jnp.asarray(RA_MEAN, jnp.float32),
                            "var": jnp.asarray(RA_VAR, jnp.float32),
                            "steps": jnp.asarray(steps, jnp.int32)}}


def _brn_expected(r, d):
    x_hat = (np.asarray(X, np.float64) - MU_B) / np.sqrt(VAR_B + EPS) * r + d
    return SCALE * x_hat + BIAS


@pytest.mark.parametrize("steps,r,d", [
    (2, np.ones(3), np.zeros(3)),  # inside warm-up: plain batch norm
    (3, np.array([math.sqrt(5.001 / 4.001), 3.0, 1.0 / 3.0]),  # warmed up: r, d clipped for 1, 2
     np.array([1.0 / math.sqrt(4.001), 5.0, -5.0])),
])
def test_batch_renorm_forward_and_running_stats(steps, r, d):
    module = BatchRenorm(use_running_average=False, momentum=0.9, warmup_steps=3)
    y, updates = module.apply(_brn_variables(steps), X, mutable=["batch_stats"])
    np.testing.assert_allclose(y, _brn_expected(r, d), rtol=1e-5, atol=1e-5)
    stats = updates["batch_stats"]
    np.testing.assert_allclose(stats["mean"], 0.9 * RA_MEAN + 0.1 * MU_B, rtol=1e-6)
    np.testing.assert_allclose(stats["var"], 0.9 * RA_VAR + 0.1 * VAR_B, rtol=1e-6)
    assert stats["steps"].dtype == jnp.int32 and int(stats["steps"]) == steps + 1


def test_batch_renorm_counter_counts_training_calls_only():
    module = BatchRenorm(use_running_average=False)
    variables = module.init(KEY, X)
    assert int(variables["batch_stats"]["steps"]) == 0  # init is not a training call
    np.testing.assert_array_equal(variables["batch_stats"]["mean"], 0.0)
    apply = jax.jit(lambda v, x: module.apply(v, x, mutable=["batch_stats"]))
    for expected in (1, 2):
        _, updates = apply(variables, X)
        variables = {"params": variables["params"], **updates}
        assert int(variables["batch_stats"]["steps"]) == expected
    BatchRenorm(use_running_average=True).apply(variables, X)  # eval mode mutates nothing


def test_batch_renorm_eval_mode_uses_running_stats():
    y = BatchRenorm(use_running_average=True).apply(_brn_variables(7), X)
    expected = SCALE * (np.asarray(X) - RA_MEAN) / np.sqrt(RA_VAR + EPS) + BIAS
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_batch_renorm_gradient_stops_at_r_and_d():
    module = BatchRenorm(use_running_average=False, warmup_steps=0)
    variables = _brn_variables(0)
    weights = jax.random.normal(KEY, X.shape)
    r = jnp.array([math.sqrt(5.001 / 4.001), 3.0, 1.0 / 3.0])
    d = jnp.array([1.0 / math.sqrt(4.001), 5.0, -5.0])

    def module_loss(x):
        return jnp.sum(weights * module.apply(variables, x, mutable=["batch_stats"])[0])

    def manual_loss(x, r_fn, d_fn):
        mu, var = x.mean(0), x.var(0)
        sigma_b = jnp.sqrt(var + EPS)
        x_hat = (x - mu) / sigma_b * r_fn(var) + d_fn(mu)
        return jnp.sum(weights * (SCALE * x_hat + BIAS))

    grad = jax.grad(module_loss)(X)
    # r, d as constants: only mu_B and var_B carry gradient.
    np.testing.assert_allclose(grad, jax.grad(manual_loss)(X, lambda v: r, lambda m: d),
                               rtol=1e-4, atol=1e-5)
    # Letting the (unclipped) r and d of feature 0 carry gradient gives a different answer.
    sigma = jnp.sqrt(jnp.asarray(RA_VAR, jnp.float32) + EPS)
    live_r = lambda v: r.at[0].set(jnp.sqrt(v[0] + EPS) / sigma[0])
    live_d = lambda m: d.at[0].set((m[0] - RA_MEAN[0]) / sigma[0])
    live = jax.grad(manual_loss)(X, live_r, live_d)
    assert np.abs(np.asarray(live[:, 0] - grad[:, 0])).max() > 1e-3
    np.testing.assert_allclose(live[:, 1:], grad[:, 1:], rtol=1e-4, atol=1e-5)


def test_batch_renorm_axis_name_matches_the_unsharded_batch():
    module = BatchRenorm(use_running_average=False, momentum=0.5, warmup_steps=0,
                         axis_name="data")
    variables = _brn_variables(0)
    full = BatchRenorm(use_running_average=False, momentum=0.5, warmup_steps=0)
    y_full, stats_full = full.apply(variables, X, mutable=["batch_stats"])
    shards = X.reshape(2, 2, 3)  # two data-parallel members with two rows each
    y, stats = jax.vmap(lambda x: module.apply(variables, x, mutable=["batch_stats"]),
                        axis_name="data")(shards)
    np.testing.assert_allclose(y.reshape(4, 3), y_full, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats["batch_stats"]["mean"][0], stats_full["batch_stats"]["mean"])
    np.testing.assert_allclose(stats["batch_stats"]["var"][0], stats_full["batch_stats"]["var"],
                               rtol=1e-6)


def test_batch_renorm_bfloat16_computation():
    module = BatchRenorm(use_running_average=False, dtype=jnp.bfloat16)
    variables = module.init(KEY, X)
    assert variables["params"]["scale"].dtype == jnp.float32
    assert variables["batch_stats"]["var"].dtype == jnp.float32
    y, updates = module.apply(variables, X.astype(jnp.bfloat16), mutable=["batch_stats"])
    assert y.dtype == jnp.bfloat16
    assert updates["batch_stats"]["mean"].dtype == jnp.float32
    y32, _ = BatchRenorm(use_running_average=False).apply(variables, X, mutable=["batch_stats"])
    np.testing.assert_allclose(np.asarray(y, np.float32), y32, atol=0.05)


def test_joint_forward_uses_statistics_of_the_concatenated_batch():
    a = jax.random.normal(KEY, (4, 2))
    b = 3.0 * jax.random.normal(jax.random.PRNGKey(1), (6, 2)) + 5.0
    module = BatchRenorm(use_running_average=False, momentum=0.0)  # running mean := batch mean
    variables = module.init(KEY, a)
    apply_fn = lambda x: module.apply(variables, x, mutable=["batch_stats"])
    (y_a, y_b), updates = joint_forward(apply_fn, a, b, has_aux=True)
    used_mean = np.asarray(updates["batch_stats"]["mean"])
    np.testing.assert_allclose(used_mean, np.concatenate([a, b]).mean(0), rtol=1e-5)
    assert np.abs(used_mean - np.asarray(a).mean(0)).min() > 0.5
    assert np.abs(used_mean - np.asarray(b).mean(0)).min() > 0.5
    y_joint, _ = apply_fn(jnp.concatenate([a, b]))
    assert y_a.shape == (4, 2) and y_b.shape == (6, 2)
    np.testing.assert_array_equal(jnp.concatenate([y_a, y_b]), y_joint)
    # Pytree inputs, and outputs batched on axis 1 (an ensemble's [num_critics, batch]).
    ensemble_fn = lambda xs: jnp.stack([xs[0].sum(-1), xs[1].sum(-1)])
    out_a, out_b = joint_forward(ensemble_fn, (a, a), (b, b), out_axis=1)
    assert out_a.shape == (2, 4) and out_b.shape == (2, 6)
    np.testing.assert_allclose(out_b[1], np.asarray(b).sum(-1), rtol=1e-6)


# ------------------------------------------------------------------------------------ HL-Gauss


def test_support_edges_and_centres():
    edges, centres = hl.support(4, min_value=0.0, max_value=4.0)
    np.testing.assert_allclose(edges, [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(centres, [0.5, 1.5, 2.5, 3.5])
    assert hl.support(min_value=-1.0, max_value=1.0)[1].shape == (101,)


def test_hl_gauss_projection_is_the_truncated_gaussian_bin_mass():
    edges, _ = hl.support(4, min_value=0.0, max_value=4.0)
    phi = lambda z: 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    y, sigma = 1.3, 0.75
    cdf = [phi((e - y) / sigma) for e in (0.0, 1.0, 2.0, 3.0, 4.0)]
    expected = [(cdf[i + 1] - cdf[i]) / (cdf[4] - cdf[0]) for i in range(4)]
    probs = hl.hl_gauss_project(jnp.array([y]), edges, sigma=sigma)
    np.testing.assert_allclose(probs[0], expected, rtol=1e-5, atol=1e-6)
    # Bin width 1: the default sigma is 0.75.
    np.testing.assert_allclose(hl.hl_gauss_project(jnp.array([y]), edges), probs, rtol=1e-6)


def test_hl_gauss_rows_sum_to_one_and_clamp_outside_targets():
    edges, _ = hl.support(11, min_value=-2.0, max_value=3.0)
    targets = jnp.array([-1e6, -2.5, -2.0, 0.3, 3.0, 3.5, 1e6])
    probs = jax.jit(hl.hl_gauss_project)(targets, edges)
    assert probs.shape == (7, 11) and bool(jnp.all(jnp.isfinite(probs)))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    for below in (0, 1):
        np.testing.assert_allclose(probs[below], probs[2], rtol=1e-6)
    for above in (5, 6):
        np.testing.assert_allclose(probs[above], probs[4], rtol=1e-6)


def test_hl_gauss_expectation_recovers_the_target():
    edges, centres = hl.support(101, min_value=-10.0, max_value=10.0)
    targets = jax.random.uniform(KEY, (64,), minval=-8.0, maxval=8.0)
    probs = hl.hl_gauss_project(targets, edges)
    # float32 erf is not monotone where it saturates: far bins must still not go negative.
    assert float(probs.min()) >= 0.0
    logits = jnp.log(probs)  # softmax(log p) = p
    values = jax.vmap(hl.expectation, in_axes=(0, None))(logits, centres)
    np.testing.assert_allclose(values, targets, atol=1e-3)


@pytest.mark.parametrize("smoothed", [False, True])
def test_cross_entropy_decreases_under_gradient_descent(smoothed):
    edges, centres = hl.support(11, min_value=0.0, max_value=11.0)
    if smoothed:
        target = hl.hl_gauss_project(jnp.array([2.2, 7.9]), edges)
    else:
        target = jax.nn.one_hot(jnp.array([2, 8]), 11)
    loss_fn = lambda logits: jnp.mean(hl.cross_entropy(logits, target))
    optimiser = optax.adam(0.1)

    def step(carry, _):
        logits, opt_state = carry
        loss, grad = jax.value_and_grad(loss_fn)(logits)
        updates, opt_state = optimiser.update(grad, opt_state)
        return (optax.apply_updates(logits, updates), opt_state), loss

    logits = jnp.zeros((2, 11))
    (logits, _), losses = jax.lax.scan(step, (logits, optimiser.init(logits)), length=100)
    assert np.all(np.diff(np.asarray(losses)) <= 1e-6)
    entropy = float(jnp.mean(-jnp.sum(jnp.where(target > 0, target * jnp.log(target), 0.0), -1)))
    assert float(losses[0]) == pytest.approx(math.log(11), rel=1e-5)
    assert float(loss_fn(logits)) - entropy < 0.1 * (math.log(11) - entropy)
    np.testing.assert_allclose(hl.expectation(logits, centres),
                               jnp.sum(target * centres, -1), atol=0.3)


def test_hl_gauss_functions_keep_bfloat16():
    edges, centres = hl.support(21, min_value=-1.0, max_value=1.0, dtype=jnp.bfloat16)
    probs = hl.hl_gauss_project(jnp.array([0.25], jnp.bfloat16), edges)
    assert probs.dtype == jnp.bfloat16
    logits = jnp.log(probs + 1e-3)
    assert hl.expectation(logits, centres).dtype == jnp.bfloat16
    assert hl.cross_entropy(logits, probs).dtype == jnp.bfloat16
    assert float(hl.expectation(logits, centres)[0]) == pytest.approx(0.25, abs=0.05)


# ------------------------------------------------------------------------ running statistics


def test_running_stats_match_numpy_over_all_data():
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc, scale, (n, 3)) for n, loc, scale in
               [(5, 1.0, 2.0), (17, -3.0, 0.5), (1, 10.0, 1.0), (40, 0.0, 4.0)]]
    stats = normalizer.init(3)
    np.testing.assert_array_equal(stats.mean, 0.0)
    np.testing.assert_array_equal(stats.var, 1.0)
    assert float(stats.count) == pytest.approx(1e-4)
    update = jax.jit(normalizer.update)
    for batch in batches:
        stats = update(stats, jnp.asarray(batch, jnp.float32))
    data = np.concatenate(batches)
    # The 1e-4 pseudo-count moves mean and var by ~1e-4 / 63 relative: below the tolerance.
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-4)
    assert float(stats.count) == pytest.approx(63 + 1e-4, rel=1e-6)
    # Several leading batch axes are all batch axes.
    flat = normalizer.update(normalizer.init(3), jnp.asarray(batches[3], jnp.float32))
    nested = normalizer.update(normalizer.init(3), jnp.asarray(batches[3].reshape(4, 10, 3),
                                                               jnp.float32))
    for x, y in zip(jax.tree_util.tree_leaves(flat), jax.tree_util.tree_leaves(nested)):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)


def test_running_stats_update_vmaps_over_seeds():
    batches = jax.random.normal(KEY, (3, 8, 4)) * jnp.array([1.0, 2.0, 3.0])[:, None, None]
    stats = jax.vmap(lambda _: normalizer.init(4))(jnp.arange(3))
    assert stats.mean.shape == (3, 4) and stats.count.shape == (3,)
    stats = jax.jit(jax.vmap(normalizer.update))(stats, batches)
    for seed in range(3):
        alone = normalizer.update(normalizer.init(4), batches[seed])
        np.testing.assert_allclose(stats.var[seed], alone.var, rtol=1e-6)
        np.testing.assert_allclose(stats.mean[seed], alone.mean, rtol=1e-6, atol=1e-7)
    assert float(jnp.abs(stats.var[0] - stats.var[2]).min()) > 0.1


def test_normalize_by_hand():
    stats = normalizer.RunningStats(mean=jnp.array([1.0, -2.0]), var=jnp.array([4.0, 0.25]),
                                    count=jnp.array(10.0))
    obs = jnp.array([[3.0, -2.0], [-1.0, -1.0]])
    np.testing.assert_allclose(normalizer.normalize(stats, obs, epsilon=0.0),
                               [[1.0, 0.0], [-1.0, 2.0]])
    np.testing.assert_allclose(normalizer.normalize(stats, obs), [[1.0, 0.0], [-1.0, 2.0]],
                               rtol=1e-6)  # epsilon 1e-8 is negligible here
    np.testing.assert_allclose(normalizer.normalize(stats, obs, epsilon=0.0, clip=1.5),
                               [[1.0, 0.0], [-1.0, 1.5]])
    assert normalizer.normalize(stats, obs.astype(jnp.bfloat16)).dtype == jnp.bfloat16
