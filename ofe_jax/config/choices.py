"""Every choice list of the config, defined once (pure Python: importing this imports no jax).

The modules that implement a choice import its list from here and check at import time that
they implement exactly these names (e.g. `networks.mlp` for ACTIVATIONS)."""

ALGORITHMS = ("sac", "td3", "crossq")
# MLP; DenseNet-connected MLP (OJK21); SimBa residual blocks (Lee et al. 2025)
TORSO_KINDS = ("mlp", "dense", "simba")
# The critic's loss: mean squared TD error, or HL-Gauss classification (Farebrother et al. 2024)
CRITIC_LOSSES = ("mse", "hl_gauss")
COMPUTE_DTYPES = ("float32", "bfloat16")  # matmuls/activations; parameters stay float32
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
OBS_DTYPES = ("float32", "bfloat16", "float16")  # replay storage of observations
BACKENDS = ("auto", "mjx", "mujoco", "warp")  # physics backends (envs/backends.py)
# Keyword options of the physics backends (envs.make(..., **options)); "warp" takes mjx's.
BACKEND_OPTIONS = {"mujoco": ("num_threads",),
                   "mjx": ("solver_iterations", "ls_iterations", "jacobian", "impl")}
