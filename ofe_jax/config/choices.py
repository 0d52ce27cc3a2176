"""Every choice list of the config, defined once (pure Python: importing this imports no jax).

The modules that implement a choice import its list from here and check at import time that
they implement exactly these names (e.g. `networks.mlp` for ACTIVATIONS)."""

ALGORITHMS = ("sac", "td3", "crossq")
# MLP; DenseNet-connected MLP (OJK21); SimBa residual blocks (Lee et al. 2025)
TORSO_KINDS = ("mlp", "dense", "simba")
# The critic's loss: mean squared TD error, or HL-Gauss classification (Farebrother et al. 2024)
CRITIC_LOSSES = ("mse", "hl_gauss")
COMPUTE_DTYPES = ("float32", "bfloat16")  # matmuls/activations; parameters stay float32
MATMUL_PRECISIONS = ("default", "tensorfloat32", "highest")  # float32 matmuls (agent config)
# Numeric agent hyperparameters that change no shape: per member of the vmapped axis (grids,
# `--config.grid.<field>=v1,v2`), held in the agent state (agents/common.py). Each algorithm has
# those of them that its config has.
GRID_FIELDS = ("actor_learning_rate", "critic_learning_rate", "alpha_learning_rate", "tau",
               "gamma", "init_alpha", "target_entropy_scale", "target_noise",
               "target_noise_clip", "exploration_noise", "ofenet.learning_rate")
ACTIVATIONS = ("relu", "swish", "silu", "tanh", "elu", "gelu", "leaky_relu")
# SAC's temperature objective (agents/sac.py): the SAC authors' code (softlearning), SB3, sbx:
# -log_alpha * mean(log pi + H); Eq. 18 of Haarnoja et al. 2018 taken literally: -alpha * (...).
TEMPERATURE_LOSSES = ("log_alpha", "alpha")
OFENET_TARGET_DIMS = ("auto",)  # or -1 (all dims) or an int in [1, observation_size]
# (observation size, action size) of each task, in ofe_jax.envs.NAMES's order: what validation
# needs without building an env (and importing jax); tests/test_envs.py checks they agree.
ENV_SIZES = {"Hopper-v5": (11, 3), "Walker2d-v5": (17, 6), "HalfCheetah-v5": (17, 6),
             "Ant-v5": (105, 8), "Humanoid-v5": (348, 17), "InvertedPendulum-v5": (4, 1),
             "InvertedDoublePendulum-v5": (9, 1)}
OBS_DTYPES = ("float32", "bfloat16", "float16")  # replay storage of observations
BACKENDS = ("auto", "mjx", "mujoco", "warp")  # physics backends (envs/backends.py)
# Keyword options of the physics backends (envs.make(..., **options)); "warp" takes mjx's.
BACKEND_OPTIONS = {"mujoco": ("num_threads",),
                   "mjx": ("solver_iterations", "ls_iterations", "integrator", "jacobian",
                           "impl")}
# MJX model options (config env.mjx.*, envs.make's mjx options; "" = the XML's). MJX 3.17 has
# no "implicit" integrator (mujoco/mjx/_src/types.py IntegratorType): "implicitfast" only.
MJX_INTEGRATORS = ("", "euler", "rk4", "implicitfast")
MJX_JACOBIANS = ("", "dense", "sparse")  # "" = the XML's (auto: dense for nv < 60 off TPU)
MJX_IMPLS = ("", "jax", "warp")  # "" = the backend's: "jax" on mjx, "warp" on warp
# The env.mjx fields and their defaults (config/defaults.py): the XML's physics, Gymnasium's.
MJX_DEFAULTS = {"solver_iterations": 0, "ls_iterations": 0, "integrator": "", "jacobian": "",
                "impl": "", "preset": ""}
# env.mjx.preset: values for the env.mjx fields left at their defaults (an explicit field wins).
# "fast": fewer constraint-solver and line-search iterations (measured in
# benchmarks/results/mjx_options_cpu.json: parity cost and speed per task; off by default).
MJX_PRESETS = {"": {}, "fast": {"solver_iterations": 4, "ls_iterations": 8}}
EVAL_LOOPS = ("auto", "scan", "while")  # the evaluation's episode loop (training/loop.py)
