"""Agent configs (ml_collections) with the papers' defaults, and their validation.

References: SAC = Haarnoja et al. 2018 ("SAC: Algorithms and Applications", v2, automatic
temperature); TD3 = Fujimoto et al. 2018; OFENet = Ota et al. 2020; larger/DenseNet networks =
Ota, Jha & Kanezaki 2021 (OJK21).
"""

import ml_collections

from ofe_jax.networks.mlp import ACTIVATIONS, TORSO_KINDS

ALGORITHMS = ("sac", "td3")


def _base_config(name: str) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = name  # Algorithm: "sac" | "td3".
    c.gamma = 0.99  # Discount factor (both papers). Transition.discount = gamma * (1 - terminated).
    c.tau = 0.005  # Polyak rate of the target networks (SAC; TD3).
    c.batch_size = 256  # Minibatch size per gradient update (SAC paper; TD3 author code).
    c.actor_learning_rate = 3e-4  # Adam (SAC paper; TD3 author code; TD3 paper used 1e-3).
    c.critic_learning_rate = 3e-4  # Adam, as above.
    c.num_critics = 2  # Clipped double-Q: min over an ensemble of this many critics (both papers).

    # Actor and critic torsos (OJK21 baseline: "mlp" 256x2; OJK21 large: "dense" 2048x2).
    c.network = ml_collections.ConfigDict()
    c.network.kind = "mlp"  # "mlp" | "dense" (DenseNet: each layer's output joins its input).
    c.network.units = 256  # Width of every hidden layer.
    c.network.layers = 2  # Number of hidden layers.
    c.network.activation = "relu"  # Hidden activation (both papers: relu).
    c.network.layer_norm = False  # LayerNorm after each hidden Dense (not in the papers).

    # OFENet feature extractor in front of actor and critic (Ota et al. 2020).
    c.ofenet = ml_collections.ConfigDict()
    c.ofenet.enabled = False  # Put OFENet in front of actor and critic.
    c.ofenet.total_units = 240  # Units added by each of phi_o and phi_oa (OFENet paper: 240).
    c.ofenet.layers = 6  # DenseNet blocks per phi (paper: 6 Hopper/Walker2d/Ant, 8 HalfCheetah/Humanoid).
    c.ofenet.activation = "swish"  # Block activation (OFENet paper: swish).
    c.ofenet.batch_norm_momentum = 0.99  # BatchNorm running-average momentum (paper code: 0.99).
    c.ofenet.batch_norm_epsilon = 1e-3  # BatchNorm epsilon (paper code: 1e-3).
    c.ofenet.learning_rate = 3e-4  # Adam for the auxiliary loss (OFENet paper).
    c.ofenet.target_dim = -1  # Predict next_obs[:target_dim]; -1 = all dims (drop contact forces on Ant/Humanoid).
    return c


def sac_config() -> ml_collections.ConfigDict:
    c = _base_config("sac")
    c.alpha_learning_rate = 3e-4  # Adam for the temperature (SAC v2).
    c.init_alpha = 1.0  # Initial temperature (SAC v2 reference code).
    c.target_entropy_scale = -1.0  # Target entropy = scale * |A| (SAC v2: -dim(A)).
    c.log_std_min = -20.0  # Clip of the policy's log std (SAC reference code).
    c.log_std_max = 2.0  # Clip of the policy's log std (SAC reference code).
    return c


def td3_config() -> ml_collections.ConfigDict:
    c = _base_config("td3")
    c.policy_delay = 2  # Actor and targets update every this many critic updates (TD3: d = 2).
    c.target_noise = 0.2  # Std of target policy smoothing noise, x action bound (TD3).
    c.target_noise_clip = 0.5  # Clip of the target noise, x action bound (TD3).
    c.exploration_noise = 0.1  # Std of the Gaussian exploration noise, x action bound (TD3).
    return c


def default_config(name: str) -> ml_collections.ConfigDict:
    """The default agent config of algorithm `name` ("sac" | "td3")."""
    if name == "sac":
        return sac_config()
    if name == "td3":
        return td3_config()
    raise ValueError(f"agent name must be one of {list(ALGORITHMS)}, got {name!r}")


def _check(ok: bool, field: str, allowed: str, value) -> None:
    if not ok:
        raise ValueError(f"agent.{field} must be {allowed}, got {value!r}")


def validate(c: ml_collections.ConfigDict, observation_size: int, action_size: int) -> None:
    """Raises ValueError naming the first bad field and its allowed values."""
    _check(c.get("name") in ALGORITHMS, "name", f"one of {list(ALGORITHMS)}", c.get("name"))
    if not isinstance(observation_size, int) or observation_size <= 0:
        raise ValueError(f"observation_size must be a positive int, got {observation_size!r}")
    if not isinstance(action_size, int) or action_size <= 0:
        raise ValueError(f"action_size must be a positive int, got {action_size!r}")
    n = c.network
    _check(n.kind in TORSO_KINDS, "network.kind", f"one of {list(TORSO_KINDS)}", n.kind)
    _check(isinstance(n.units, int) and n.units > 0, "network.units", "an int > 0", n.units)
    _check(isinstance(n.layers, int) and n.layers > 0, "network.layers", "an int > 0", n.layers)
    _check(n.activation in ACTIVATIONS, "network.activation", f"one of {sorted(ACTIVATIONS)}",
           n.activation)
    _check(0.0 <= c.gamma <= 1.0, "gamma", "in [0, 1]", c.gamma)
    _check(0.0 < c.tau <= 1.0, "tau", "in (0, 1]", c.tau)
    _check(isinstance(c.batch_size, int) and c.batch_size > 0, "batch_size", "an int > 0",
           c.batch_size)
    _check(isinstance(c.num_critics, int) and c.num_critics >= 1, "num_critics", "an int >= 1",
           c.num_critics)
    for lr in ("actor_learning_rate", "critic_learning_rate"):
        _check(c[lr] > 0, lr, "> 0", c[lr])
    o = c.ofenet
    if o.enabled:
        _check(isinstance(o.layers, int) and o.layers > 0, "ofenet.layers", "an int > 0", o.layers)
        _check(isinstance(o.total_units, int) and o.total_units >= o.layers
               and o.total_units % o.layers == 0, "ofenet.total_units",
               f"a positive multiple of ofenet.layers={o.layers}", o.total_units)
        _check(o.activation in ACTIVATIONS, "ofenet.activation", f"one of {sorted(ACTIVATIONS)}",
               o.activation)
        _check(o.target_dim == -1 or 0 < o.target_dim <= observation_size, "ofenet.target_dim",
               f"-1 or in [1, observation_size={observation_size}]", o.target_dim)
        _check(o.learning_rate > 0, "ofenet.learning_rate", "> 0", o.learning_rate)
    if c.name == "sac":
        _check(c.alpha_learning_rate > 0, "alpha_learning_rate", "> 0", c.alpha_learning_rate)
        _check(c.init_alpha > 0, "init_alpha", "> 0", c.init_alpha)
        _check(c.log_std_min < c.log_std_max, "log_std_min", f"< log_std_max={c.log_std_max}",
               c.log_std_min)
    else:
        _check(isinstance(c.policy_delay, int) and c.policy_delay >= 1, "policy_delay",
               "an int >= 1", c.policy_delay)
        for f in ("target_noise", "target_noise_clip", "exploration_noise"):
            _check(c[f] >= 0, f, ">= 0", c[f])
