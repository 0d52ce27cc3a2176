"""The OJK21 table's settings: 5 tasks x {SAC, TD3} x {baseline MLP 256x2, OJK21 large}.

    get_config("Ant-v5,td3,dense")           (task, algorithm, variant)
    --config=configs/paper.py:Ant-v5,td3,dense

"mlp"   = the baseline: MLP 256x2, no OFENet.
"dense" = OJK21: OFENet (240 units; 6 blocks, 8 on HalfCheetah and Humanoid) in front of
          DenseNet MLPs 2 x 2048.
1M env steps per seed, as in the paper's table. Pure: imports no jax.
"""

from ofe_jax.config import defaults
from ofe_jax.config.agent import default_config as agent_config
from ofe_jax.config.choices import ALGORITHMS
from ofe_jax.errors import ConfigError

TASKS = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5", "Humanoid-v5")
VARIANTS = ("mlp", "dense")
OFENET_LAYERS = {"Hopper-v5": 6, "Walker2d-v5": 6, "HalfCheetah-v5": 8, "Ant-v5": 6,
                 "Humanoid-v5": 8}  # OFENet paper, Table 4
# OFENet predicts next_obs[:target_dim]: all dims, except Ant-v5 and Humanoid-v5 whose last 78
# dims are contact forces (cfrc_ext[1:]).
OFENET_TARGET_DIM = {"Hopper-v5": -1, "Walker2d-v5": -1, "HalfCheetah-v5": -1, "Ant-v5": 27,
                     "Humanoid-v5": 270}


def parse_spec(spec: str) -> tuple[str, str, str]:
    """"task,algorithm,variant" -> its three parts; ConfigError naming the choices otherwise."""
    parts = spec.split(",")
    if len(parts) != 3 or parts[0] not in TASKS or parts[1] not in ALGORITHMS \
            or parts[2] not in VARIANTS:
        raise ConfigError(f"configs/paper.py takes 'task,algorithm,variant' with task in "
                          f"{list(TASKS)}, algorithm in {list(ALGORITHMS)}, variant in "
                          f"{list(VARIANTS)}; got {spec!r}")
    return parts[0], parts[1], parts[2]


def get_config(spec: str = "Hopper-v5,sac,dense"):
    task, algorithm, variant = parse_spec(spec)
    c = defaults.get_config()
    c.env.name = task
    c.agent = agent_config(algorithm)
    if variant == "dense":
        c.agent.network.kind = "dense"
        c.agent.network.units = 2048
        c.agent.ofenet.enabled = True
        c.agent.ofenet.layers = OFENET_LAYERS[task]
        c.agent.ofenet.target_dim = OFENET_TARGET_DIM[task]
    return c
