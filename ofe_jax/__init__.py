"""ofe_jax: large networks for deep RL (OFENet, DenseNet MLPs, SAC/TD3) as compiled JAX programs.

Ota, Jha & Kanezaki, "Training Larger Networks for Deep Reinforcement Learning" (2021), rebuilt
so that the whole training loop is one jitted program and many seeds train at once under vmap.

    policy = ofe_jax.load_policy("runs/hopper")     # obs -> env action, from a checkpoint
"""

__version__ = "0.1.0"


def __getattr__(name):  # lazy, so that `import ofe_jax` (e.g. for the analysis) imports no jax
    if name in ("load_policy", "load_policies"):
        from ofe_jax import policy

        return getattr(policy, name)
    raise AttributeError(f"module 'ofe_jax' has no attribute {name!r}")
