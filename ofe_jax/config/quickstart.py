"""Quick start: SAC on InvertedPendulum-v5 on a CPU in about a minute; it reaches the maximum
evaluation return (1000) within ~10k env steps. The default of `python -m ofe_jax.main`.

Departs from the papers' defaults to be quick on a CPU: 64-unit networks and learning rate 1e-3
(with 3e-4 this small SAC needs several times more steps here)."""

from ofe_jax.config import defaults


def get_config():
    c = defaults.get_config()
    c.env.name = "InvertedPendulum-v5"
    c.total_steps = 15_000
    c.random_steps = 1_000
    c.agent.network.units = 64
    c.agent.actor_learning_rate = 1e-3
    c.agent.critic_learning_rate = 1e-3
    c.replay.capacity = 100_000
    c.eval_every = 1_000
    c.eval_episodes = 5
    c.log_every = 1_000
    c.checkpoint_every = 5_000
    return c
