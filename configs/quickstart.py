"""Quick start: SAC on InvertedPendulum-v5 on a CPU in about a minute (the default of
`python -m ofe_jax.main`); see ofe_jax/config/quickstart.py."""

from ofe_jax.config.quickstart import get_config  # noqa: F401
