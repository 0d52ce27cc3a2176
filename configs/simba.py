"""A post-2021 option on a paper task: --config=configs/simba.py:TASK[,ALGO] (see
ofe_jax/config/variants.py: what the option sets and where each value comes from)."""

from ofe_jax.config import variants


def get_config(spec: str = "Hopper-v5"):
    return variants.get_config(spec, option="simba")
