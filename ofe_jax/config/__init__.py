"""Configs: defaults, the OJK21 table, choice lists (defined once) and validation (run once).

Pure Python: importing `ofe_jax.config` (and `flatten`, the choice lists, the default configs)
imports neither jax nor MuJoCo; `ofe_jax.config.validation` does (it builds an env for sizes).

    from ofe_jax.config import defaults, paper, quickstart
    config = paper.get_config("Hopper-v5,sac,dense")
"""

from ofe_jax.config import choices
from ofe_jax.config.agent import default_config as agent_config


def flatten(d: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}: nested config dicts as dotted field names."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


__all__ = ["choices", "agent_config", "flatten"]
