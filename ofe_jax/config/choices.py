"""Every choice list of the config, defined once (pure Python: importing this imports no jax).

The modules that implement a choice import its list from here and check at import time that
they implement exactly these names (e.g. `networks.mlp` for ACTIVATIONS)."""

ALGORITHMS = ("sac", "td3")
TORSO_KINDS = ("mlp", "dense")  # MLP; DenseNet-connected MLP (OJK21)
ACTIVATIONS = ("relu", "swish", "silu", "tanh", "elu", "gelu", "leaky_relu")
OBS_DTYPES = ("float32", "bfloat16", "float16")  # replay storage of observations
BACKENDS = ("auto", "mjx", "mujoco", "warp")  # physics backends (envs/backends.py)
# Keyword options of the physics backends (envs.make(..., **options)); "warp" takes mjx's.
BACKEND_OPTIONS = {"mujoco": ("num_threads",),
                   "mjx": ("solver_iterations", "ls_iterations", "jacobian", "impl")}
