"""OJK21 on Humanoid-v5: SAC + OFENet (240 units, 8 blocks, contact forces not predicted) +
DenseNet MLPs 2 x 2048, 1M steps."""

from ofe_jax.config import paper


def get_config():
    return paper.get_config("Humanoid-v5,sac,dense")
