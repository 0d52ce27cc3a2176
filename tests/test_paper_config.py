"""configs/paper.py's variants (baseline, OJK21's networks, OJK21's whole method), OFENet's
target without contact forces, and the bad input around them."""

import re

import pytest

from ofe_jax import training
from ofe_jax.config import paper, validation
from ofe_jax.errors import ConfigError


@pytest.mark.parametrize("task,expected", [("Hopper-v5", 11), ("Ant-v5", 27),
                                           ("Humanoid-v5", 270), ("HalfCheetah-v5", 17)])
def test_ofenet_target_leaves_out_contact_forces(task, expected):
    """target_dim "auto" (the default): the observation without its trailing contact forces."""
    c = paper.get_config(f"{task},sac,dense")
    assert c.agent.ofenet.target_dim == "auto"
    assert training.build(c).agent.encoder.ofenet.target_dim == expected
    c.agent.ofenet.target_dim = -1  # every dimension, contact forces included
    obs = training.build(c).plan.observation_size
    assert training.build(c).agent.encoder.ofenet.target_dim == obs


def test_ojk21_is_the_whole_method():
    c = paper.get_config("Ant-v5,td3,ojk21")
    validation.validate(c)
    assert (c.agent.network.kind, c.agent.network.units, c.agent.ofenet.enabled) == (
        "dense", 2048, True)
    assert (c.env.num_envs, c.exploration.per_actor, c.replay.prioritized) == (8, True, True)
    assert (c.replay.priority_alpha, c.replay.priority_beta0, c.agent.batch_size,
            c.updates_per_step, c.variant) == (0.6, 0.4, 256, 1.0, "ojk21")
    dense = paper.get_config("Ant-v5,td3,dense")  # the ablation keeps one actor
    assert (dense.env.num_envs, dense.exploration.per_actor, dense.replay.prioritized,
            dense.variant) == (1, False, False, "dense")


@pytest.mark.parametrize("task,value", [("Ant-v5", 106), ("Humanoid-v5", 400)])
def test_explicit_target_dim_beyond_the_observation_names_the_numbers(task, value):
    c = paper.get_config(f"{task},sac,ojk21")
    c.agent.ofenet.target_dim = value
    size = {"Ant-v5": 105, "Humanoid-v5": 348}[task]
    with pytest.raises(ConfigError, match=re.escape(
            f"agent.ofenet.target_dim must be 'auto', -1 or an int in [1, observation_size="
            f"{size}], got {value}")):
        validation.validate(c)


def test_ojk21_on_a_mesh_that_does_not_divide_its_actors():
    c = paper.get_config("Hopper-v5,sac,ojk21")
    c.parallel.data_devices = 3
    with pytest.raises(ConfigError, match=re.escape(
            "parallel.data_devices=3 does not divide env.num_envs=8")):
        validation.validate_mesh(c, device_count=8)


def test_bad_variant_names_the_choices():
    with pytest.raises(ConfigError, match=re.escape("variant in ['mlp', 'dense', 'ojk21']")):
        paper.get_config("Hopper-v5,sac,apex")
