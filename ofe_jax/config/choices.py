"""Every choice list of the config, defined once (pure Python: importing this imports no jax).

The modules that implement a choice import its list from here and check at import time that
they implement exactly these names (e.g. `networks.mlp` for ACTIVATIONS)."""

ALGORITHMS = ("sac", "td3")
TORSO_KINDS = ("mlp", "dense")  # MLP; DenseNet-connected MLP (OJK21)
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
