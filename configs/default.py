"""Default training config: SAC, MLP 256x2, Hopper-v5, the papers' schedule. Every field is
commented in ofe_jax/config/defaults.py (and the agent's in ofe_jax/config/agent.py).

    python -m ofe_jax.main --config=configs/default.py --config.env.name=Walker2d-v5
"""

from ofe_jax.config.defaults import get_config  # noqa: F401
