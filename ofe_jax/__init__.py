"""ofe_jax: large networks for deep RL (OFENet, DenseNet MLPs, SAC/TD3) as compiled JAX programs.

Ota, Jha & Kanezaki, "Training Larger Networks for Deep Reinforcement Learning" (2021), rebuilt
so that the whole training loop is one jitted program and many seeds train at once under vmap.
"""

__version__ = "0.1.0"
