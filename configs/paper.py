"""The OJK21 table: --config=configs/paper.py:TASK,ALGO,VARIANT, e.g. Ant-v5,td3,dense.

TASK in Hopper-v5, Walker2d-v5, HalfCheetah-v5, Ant-v5, Humanoid-v5; ALGO in sac, td3; VARIANT
"mlp" (baseline MLP 256x2) or "dense" (OFENet + DenseNet MLP 2x2048). The settings, each with
its source, are in ofe_jax/config/paper.py.
"""

from ofe_jax.config.paper import get_config  # noqa: F401
