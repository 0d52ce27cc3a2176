"""Configs of the post-2021 options on the paper's tasks: HL-Gauss critics, SimBa torsos with
observation normalisation, CrossQ, bfloat16 matmuls. Each starts from configs/paper.py's
baseline ("mlp": SAC/TD3, MLP 256x2) of the task and turns one option on; every option is off
by default elsewhere. Pure: imports no jax.

    get_config("HalfCheetah-v5,sac,hl_gauss")      --config=configs/hl_gauss.py:HalfCheetah-v5
"""

from ofe_jax.config import paper
from ofe_jax.config.agent import crossq_config
from ofe_jax.errors import ConfigError

OPTIONS = ("hl_gauss", "simba", "crossq", "bf16")

# HL-Gauss support per task: [r_min, r_max] / (1 - gamma) with gamma 0.99 and per-step reward
# bounds estimated from the v5 reward terms (healthy reward, forward velocity, control cost):
# Hopper [-1, 5], Walker2d [-1, 8], HalfCheetah [-2, 16], Ant [-2, 10], Humanoid [-1, 15].
# Ours (no paper gives MuJoCo supports); targets beyond them are clipped.
HL_GAUSS_SUPPORT = {"Hopper-v5": (-100.0, 500.0), "Walker2d-v5": (-100.0, 800.0),
                    "HalfCheetah-v5": (-200.0, 1600.0), "Ant-v5": (-200.0, 1000.0),
                    "Humanoid-v5": (-100.0, 1500.0)}


def parse_spec(spec: str, option: str | None = None) -> tuple[str, str, str]:
    """"task,algorithm,option", or "task[,algorithm]" with `option` given -> the three parts
    (algorithm: "sac" by default; the crossq option is its own algorithm)."""
    parts = spec.split(",")
    if option is None:
        option = parts.pop() if len(parts) == 3 else ""
    task, algorithm = parts[0], (parts[1] if len(parts) == 2 else "sac")
    if option == "crossq" and len(parts) == 1:
        algorithm = "crossq"
    if len(parts) > 2 or task not in paper.TASKS or option not in OPTIONS \
            or algorithm not in (("crossq",) if option == "crossq" else ("sac", "td3")):
        raise ConfigError(f"variant configs take 'task[,algorithm]' with task in "
                          f"{list(paper.TASKS)}, algorithm in ['sac', 'td3'] (crossq: none), "
                          f"option in {list(OPTIONS)}; got {spec!r} for option {option!r}")
    return task, algorithm, option


def get_config(spec: str = "Hopper-v5,sac,hl_gauss", option: str | None = None):
    task, algorithm, option = parse_spec(spec, option)
    c = paper.get_config(f"{task},{'sac' if algorithm == 'crossq' else algorithm},mlp")
    # (crossq starts from SAC's baseline config and replaces its agent section below)
    c.variant = option
    if option == "hl_gauss":  # Farebrother et al. 2024
        c.agent.critic_loss = "hl_gauss"
        c.agent.hl_gauss.min_value, c.agent.hl_gauss.max_value = HL_GAUSS_SUPPORT[task]
    elif option == "simba":  # Lee et al. 2025: residual torso + running observation statistics
        c.agent.network.kind = "simba"
        c.agent.network.units = 512  # the paper's SAC critic: 2 blocks x 512 (its actor:
        c.agent.network.layers = 2  # 1 x 128; here one torso config serves both)
        c.env.normalize_obs = True
        # Kept at the SAC baseline's, not the SimBa paper's (official sac_simba.yaml): Adam
        # 3e-4 (SimBa: AdamW 1e-4, weight decay 1e-2), initial temperature 1.0 (0.01), target
        # entropy -|A| (-|A|/2); the critic always takes the min of two Qs (SimBa: only on
        # tasks with terminations).
    elif option == "crossq":  # Bhatt et al. 2024, with its defaults (agent/crossq_config)
        c.agent = crossq_config()
    elif option == "bf16":
        c.agent.compute_dtype = "bfloat16"
    return c
