"""Agent configs (ml_collections) with the papers' defaults. Pure: imports no jax.

References: SAC = Haarnoja et al. 2018 ("SAC: Algorithms and Applications", v2, automatic
temperature); TD3 = Fujimoto et al. 2018; OFENet = Ota et al. 2020; larger/DenseNet networks =
Ota, Jha & Kanezaki 2021 (OJK21); HL-Gauss = Farebrother et al. 2024; SimBa = Lee et al. 2025;
CrossQ = Bhatt et al. 2024. Validation: `ofe_jax.config.validation.validate_agent`.
"""

import ml_collections

from ofe_jax.config.choices import ALGORITHMS
from ofe_jax.errors import ConfigError


def _base_config(name: str) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = name  # Algorithm: "sac" | "td3" | "crossq".
    c.gamma = 0.99  # Discount factor (both papers). Transition.discount = gamma * (1 - terminated).
    c.tau = 0.005  # Polyak rate of the target networks (SAC; TD3).
    c.batch_size = 256  # Minibatch size per gradient update (SAC paper; TD3 author code).
    c.actor_learning_rate = 3e-4  # Adam (SAC paper; TD3 author code; TD3 paper used 1e-3).
    c.critic_learning_rate = 3e-4  # Adam, as above.
    c.num_critics = 2  # Clipped double-Q: min over an ensemble of this many critics (both papers).

    # Actor and critic torsos (OJK21 baseline: "mlp" 256x2; OJK21 large: "dense" 2048x2).
    c.network = ml_collections.ConfigDict()
    # "mlp" | "dense" (DenseNet: each layer's output joins its input) | "simba" (Lee et al.
    # 2025: linear embedding, `layers` pre-LayerNorm residual blocks with a 4x inverted
    # bottleneck, final LayerNorm; the paper's SAC: critic 2 blocks x 512, actor 1 x 128).
    c.network.kind = "mlp"
    c.network.units = 256  # Width of every hidden layer (simba: of the residual stream).
    c.network.layers = 2  # Number of hidden layers (simba: residual blocks).
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
    # Predict next_obs[:target_dim] (OFENet paper: the observation without contact forces).
    # "auto": all dims except the env's trailing contact-force dims (Ant-v5 27 of 105,
    # Humanoid-v5 270 of 348, every dim elsewhere); -1: all dims; or an int.
    c.ofenet.target_dim = ml_collections.FieldReference("auto", field_type=object)  # str or int
    # The auxiliary step samples its own minibatch (OFENet authors' code: a separate
    # replay.sample for the OFENet update); False: it reuses the RL step's minibatch.
    c.ofenet.separate_batch = True

    # The critic's loss (choices.CRITIC_LOSSES): "mse" regression (both papers) or "hl_gauss"
    # classification (Farebrother et al. 2024, "Stop Regressing"): the critic outputs num_bins
    # logits over [min_value, max_value], Q is their softmax-weighted mean of bin centres, and
    # the target is the TD target's Gaussian-smoothed projection on the bins (cross-entropy).
    c.critic_loss = "mse"
    c.hl_gauss = ml_collections.ConfigDict()
    c.hl_gauss.num_bins = 101  # Bins of the histogram (the paper sweeps 21-201; ours: 101).
    # Support of Q. Choose it from the reward range and gamma: Q lies in
    # [r_min / (1 - gamma), r_max / (1 - gamma)]; targets outside are clipped to it. E.g. with
    # gamma 0.99: Hopper-v5 (r in about [-1, 5]) [-100, 500], HalfCheetah-v5 ([-2, 16])
    # [-200, 1600]; configs/hl_gauss.py sets one per paper task. Default: a wide symmetric one.
    c.hl_gauss.min_value = -1000.0
    c.hl_gauss.max_value = 1000.0
    c.hl_gauss.sigma_ratio = 0.75  # Gaussian std / bin width (Farebrother et al. 2024: 0.75).

    # Mixed precision (choices.COMPUTE_DTYPES): "bfloat16" runs matmuls and activations in
    # bfloat16; parameters, optimiser states, losses and statistics stay float32.
    c.compute_dtype = "float32"
    # Precision of the networks' float32 matmuls (choices.MATMUL_PRECISIONS), as
    # jax.default_matmul_precision: "default" lets XLA pick (TF32 tensor cores on NVIDIA Ampere
    # and newer GPUs: ~10 mantissa bits), "tensorfloat32" asks for TF32, "highest" for true
    # float32 (slower on GPUs). No effect on CPUs. The MJX physics always runs at "highest".
    c.matmul_precision = "default"
    return c


def sac_config() -> ml_collections.ConfigDict:
    c = _base_config("sac")
    c.alpha_learning_rate = 3e-4  # Adam for the temperature (SAC v2).
    c.init_alpha = 1.0  # Initial temperature (SAC v2 reference code).
    # Temperature objective, minimised over log alpha (choices.TEMPERATURE_LOSSES):
    # "log_alpha": -log_alpha * mean(log pi + target_entropy), as the SAC authors' code
    #   (softlearning), SB3 and sbx have it: the gradient is not scaled by alpha;
    # "alpha": -alpha * mean(log pi + target_entropy), Eq. 18 of Haarnoja et al. 2018 literally.
    c.temperature_loss = "log_alpha"
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


def crossq_config() -> ml_collections.ConfigDict:
    """CrossQ (Bhatt et al. 2024, ICLR): SAC without target networks, Batch Renormalization in
    critic and actor, one joint forward of (s, a) and (s', a'). Defaults from the paper and the
    authors' code (adityab/CrossQ, train.py with -algo crossq)."""
    c = sac_config()
    c.name = "crossq"
    del c.tau  # no target networks
    c.actor_learning_rate = 1e-3  # CrossQ: Adam lr 1e-3 for actor and critic
    c.critic_learning_rate = 1e-3
    c.alpha_learning_rate = 1e-3  # CrossQ code: the temperature's Adam (default b1) at 1e-3
    c.adam_b1 = 0.5  # CrossQ: Adam beta1 = 0.5 for actor and critic (beta2 0.999)
    c.policy_delay = 3  # CrossQ: actor and temperature every 3rd critic update
    c.critic_network = ml_collections.ConfigDict()  # the critic's own torso (wider than the actor's)
    c.critic_network.kind = "mlp"  # "mlp" | "dense": Dense -> act -> BatchRenorm per layer
    c.critic_network.units = 2048  # CrossQ: critic 2 x 2048 (sbx's CrossQ default: 1024)
    c.critic_network.layers = 2
    c.critic_network.activation = "relu"
    c.network.units = 256  # CrossQ: actor 2 x 256 (relu)
    c.batch_renorm = ml_collections.ConfigDict()  # Ioffe 2017, as in CrossQ's code
    c.batch_renorm.momentum = 0.99  # running mean/var momentum
    c.batch_renorm.epsilon = 1e-3
    c.batch_renorm.r_max = 3.0
    c.batch_renorm.d_max = 5.0
    c.batch_renorm.warmup_steps = 100_000  # plain BatchNorm for this many training calls
    c.batch_renorm.actor = True  # BatchRenorm in the actor too (CrossQ code: "brn_actor")
    return c


def default_config(name: str) -> ml_collections.ConfigDict:
    """The default agent config of algorithm `name` (one of `choices.ALGORITHMS`)."""
    if name == "sac":
        return sac_config()
    if name == "td3":
        return td3_config()
    if name == "crossq":
        return crossq_config()
    raise ConfigError(f"agent name must be one of {list(ALGORITHMS)}, got {name!r}")
