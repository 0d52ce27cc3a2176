"""Run by tests/test_parallel.py in a subprocess with 4 CPU devices; prints one line per check
and exits non-zero on the first failure."""

import os

from _cli import FAST_COMPILE  # noqa: E402  (compile-bound checks: see tests/_cli.py)

os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count=4 {FAST_COMPILE}"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, PartitionSpec as P  # noqa: E402

from _batches import random_batch, tiny_config as agent_config  # noqa: E402
from ofe_jax import agents  # noqa: E402
from ofe_jax.training import Trainer  # noqa: E402
from test_train import tiny_config  # noqa: E402

assert jax.device_count() == 4


def seeds_sharded_equals_one_device():
    """4 seeds over 4 devices vs 4 seeds on one: the random phase is bitwise equal; after 50
    updates losses agree to float rounding (a vmap of 1 vs 4 seeds rounds differently on
    XLA:CPU, see test_train.py), so they are compared with rtol 1e-2."""
    one = Trainer(tiny_config(seeds=4, random_steps=150))
    carry1, m1 = one.run_chunk(one.init(one.seed_keys()))
    config = tiny_config(seeds=4, random_steps=150)
    config.parallel.seeds_devices = 4
    four = Trainer(config)
    carry4, m4 = four.run_chunk(four.init(four.seed_keys()))
    assert carry4.buffer.data.obs.sharding.spec[0] == "seeds"
    assert len(carry4.buffer.data.obs.sharding.device_set) == 4
    for field in ("obs", "action", "reward", "next_obs"):
        np.testing.assert_array_equal(getattr(carry4.buffer.data, field)[:, :150],
                                      getattr(carry1.buffer.data, field)[:, :150])
    for k in ("critic_loss", "actor_loss", "ofenet_loss", "q_mean"):
        np.testing.assert_allclose(m4[k], m1[k], rtol=1e-2, err_msg=k)
    np.testing.assert_allclose(four.eval_return(carry4), one.eval_return(carry1), rtol=0.2)


def data_parallel_update_equals_global_batch():
    """One update on a global batch of 32 vs 2 devices with 16 each and gradients (and OFENet
    BatchNorm statistics, and the sampling noise) shared over `data`: allclose (float sums of
    two halves vs one sum)."""
    mesh = Mesh(np.asarray(jax.devices()[:2]), ("data",))
    for name in ("sac", "td3"):
        config = agent_config(name, ofenet=True, kind="dense")
        single = agents.make(config, 5, 2)
        split = agents.make(config, 5, 2, axis_name="data")
        state = single.init(jax.random.PRNGKey(0))
        batch = random_batch(jax.random.PRNGKey(1), 32, 5, 2)
        expected, expected_metrics = jax.jit(single.update)(state, batch)
        sharded = jax.jit(jax.shard_map(split.update, mesh=mesh, in_specs=(P(), P("data")),
                                        out_specs=(P(), P()), check_vma=False))
        got, _ = sharded(state, batch)
        # Adam's first step is ~lr * sign(g): where g is tiny, rounding of the two half-sums
        # moves a parameter by a few % of lr (3e-4); the bound is a tenth of a step.
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=3e-5),
                     got, expected)
        first = max(jax.tree.leaves(got.critic_params), key=lambda x: x.size)
        assert not np.allclose(first, max(jax.tree.leaves(state.critic_params),
                                          key=lambda x: x.size))  # it did update


def data_parallel_training_runs():
    config = tiny_config(seeds=2, random_steps=100)
    config.env.num_envs = 2
    config.parallel.seeds_devices = 2
    config.parallel.data_devices = 2
    config.replay.prioritized = True
    trainer = Trainer(config)
    carry, metrics = trainer.run_chunk(trainer.init(trainer.seed_keys()))
    assert int(carry.step) == 200
    assert carry.env.obs.shape == (2, 2, 4) and carry.buffer.storage.data.obs.shape[:2] == (2, 1000)
    assert np.isfinite(metrics["critic_loss"]).all() and metrics["episodes"].shape == (2,)
    assert trainer.eval_return(carry).shape == (2,)


for check in (seeds_sharded_equals_one_device, data_parallel_update_equals_global_batch,
              data_parallel_training_runs):
    check()
    print(f"ok {check.__name__}", flush=True)
