"""Default training config: SAC, MLP 256x2, Hopper-v5, the papers' schedule. Every field is
commented; variants (`paper.py`, `quickstart.py`, the files in the top-level configs/) start from
`get_config()` and override a few fields. Pure: imports no jax."""

import ml_collections

from ofe_jax.config.agent import default_config as agent_config
from ofe_jax.config.grid import grid_section


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0  # First seed; a run of `seeds` seeds trains seeds seed, seed+1, ..., vmapped.
    c.seeds = 1  # Number of seeds trained at once in one compiled program (vmap).
    c.variant = ""  # Report label: paper.py's "mlp" | "dense" | "ojk21"; "" = from the network.
    c.total_steps = 1_000_000  # Env steps per seed (all envs together), rounded up to whole chunks.

    c.env = ml_collections.ConfigDict()
    c.env.name = "Hopper-v5"  # Gymnasium v5 task id (see ofe_jax.envs.NAMES).
    c.env.num_envs = 1  # Parallel envs per seed (Ape-X-style actors); 1 = the papers' setting.
    c.env.backend = "auto"  # "auto" (mjx on GPU/TPU, C MuJoCo on CPU) | "mjx" | "mujoco".
    c.env.episode_length = 1000  # Time limit in steps (truncation, not termination): v5's 1000.
    # Running mean/var normalisation of the observations the agents see (SimBa's RSNorm, Lee et
    # al. 2025): per seed, updated on collected observations only, applied at acting, at
    # sampling (the replay stores raw observations) and at evaluation; saved with the policy.
    c.env.normalize_obs = False
    # Options of the MJX model (envs/backends.py MjxBackend), on the mjx and warp backends only.
    # Defaults = the XML's, i.e. Gymnasium's physics; every other value changes the physics.
    # With env.backend "mujoco" they must stay at their defaults (C MuJoCo always steps the XML's
    # physics; validation refuses others); with "auto" they apply where it resolves to mjx and
    # are not used where it resolves to mujoco (CPU).
    c.env.mjx = ml_collections.ConfigDict()
    c.env.mjx.solver_iterations = 0  # Max constraint-solver iterations; 0 = the XML's (50/100).
    c.env.mjx.ls_iterations = 0  # Max line-search iterations per solver iteration; 0 = XML's (50).
    c.env.mjx.integrator = ""  # "" = the XML's (RK4; Euler for HalfCheetah) | "euler" | "rk4" |
    #   "implicitfast" (MJX has no "implicit").
    c.env.mjx.jacobian = ""  # "" = the XML's (auto: dense on GPU for these models) | "dense" |
    #   "sparse".
    c.env.mjx.impl = ""  # "" = the backend's ("jax" on mjx, "warp" on warp) | "jax" | "warp".
    # "" | "fast": a named set of the fields above (ofe_jax/config/choices.py MJX_PRESETS), used
    # for the fields left at their defaults. "fast" = 4 solver / 8 line-search iterations; its
    # parity cost per task is in benchmarks/results/mjx_options_cpu.json. Off by default.
    c.env.mjx.preset = ""

    c.agent = agent_config("sac")  # See ofe_jax/config/agent.py for every field.
    # Hyperparameter grid (ofe_jax/config/grid.py): grid.<agent field> = "v1,v2,..." trains every
    # (grid point, seed) pair as one member of the vmapped program; "" = not gridded.
    c.grid = grid_section()

    c.replay = ml_collections.ConfigDict()
    c.replay.capacity = 1_000_000  # Transitions per seed (SAC/TD3 papers: 1M).
    c.replay.obs_dtype = "float32"  # Storage of obs/next_obs: "float32" | "bfloat16" | "float16".
    c.replay.prioritized = False  # Proportional prioritised replay (Schaul et al. 2016); off = uniform.
    c.replay.priority_alpha = 0.6  # Priority exponent alpha (Schaul et al. 2016, proportional: 0.6).
    c.replay.priority_beta0 = 0.4  # Importance-sampling exponent at the start, annealed to 1 (0.4).
    c.replay.priority_eps = 1e-6  # Added to |TD error| so that no transition has zero priority.

    # Ape-X-style collection (Horgan et al. 2018): each of the env.num_envs actors explores at its
    # own level, on a geometric ladder from the max (actor 0) to the min (last actor).
    c.exploration = ml_collections.ConfigDict()
    c.exploration.per_actor = False  # Off = the papers' single exploration level.
    c.exploration.td3_sigma_max = 0.4  # TD3 Gaussian sigma of actor 0, x action bound (Ape-X eps 0.4).
    c.exploration.td3_sigma_min = 0.4**8  # Last actor: Ape-X's eps^(1 + alpha), alpha = 7.
    c.exploration.sac_scale_max = 1.0  # SAC: multiplier of the policy's std for actor 0 (ours).
    c.exploration.sac_scale_min = 0.1  # SAC: multiplier for the last actor (ours, not a paper's).

    c.random_steps = 10_000  # Uniform-random actions first (OFENet paper: 10k; SAC 1k-10k).
    c.ofenet_pretrain_steps = 10_000  # OFENet-only updates after the random phase (OFENet paper).
    c.updates_per_step = 1.0  # Gradient updates per env step: num_envs * this per iteration.

    # Devices (see ofe_jax/training/mesh.py): a mesh of seeds_devices x data_devices devices.
    c.parallel = ml_collections.ConfigDict()
    c.parallel.seeds_devices = 1  # Seeds split across this many devices (no communication).
    c.parallel.data_devices = 1  # One run's envs/replay/batch split; gradients pmean-ed.
    c.parallel.coordinator_address = ""  # Multi-host: "host:port" of process 0.
    c.parallel.num_processes = 1  # Multi-host: number of processes (one per host).
    c.parallel.process_id = 0  # Multi-host: this process's index.
    # Multi-host timeouts, in seconds (jax.distributed's defaults; ofe_jax/training/multihost.py):
    c.parallel.initialization_timeout_s = 300  # Start-up waits this long for every process.
    c.parallel.heartbeat_timeout_s = 100  # A process silent this long is dead: all others stop.
    c.parallel.shutdown_timeout_s = 300  # At the end, wait this long for the others to finish.

    # Env steps between deterministic evaluations. The OFENet paper evaluates every 5k
    # (--config.eval_every=5000 for its curves); the default is sparser because on a GPU an
    # evaluation is 1000 serial env steps, as costly as 1000 training iterations: the plan's
    # H100 projection of configs/paper.py:Hopper-v5,sac,mlp (1 env) puts evaluation at 14.8% of
    # a 1M-step run at 5k and 4.2% at 20k (benchmarks/results/gpu_loop_before_after_h100_plan.json).
    # With N envs per seed a run has N times fewer iterations, so evaluation's share grows with
    # N (the 8-env OJK21 Humanoid run: ~26% at 20k).
    c.eval_every = 20_000
    c.eval_episodes = 10  # Episodes per evaluation, run as parallel eval envs.
    # The evaluation's episode loop: "scan" (fixed length, episode_length steps, masked after
    # each episode's end: no host round trip per step on accelerators), "while" (stops when
    # every episode has ended), "auto" = scan on GPU/TPU, while on CPU. Same returns.
    c.eval_loop = "auto"
    c.log_every = 5_000  # Env steps between log rows (metrics.csv, TensorBoard, progress).
    # Longest wall time of one compiled call (seconds): a log interval runs as as many calls
    # as that takes (training/schedule.py: Pacing), so that a signal is acted on in about this.
    c.call_seconds = 5.0
    c.checkpoint_every = 100_000  # Env steps between checkpoints (and one at the end).
    c.keep_checkpoints = 3  # How many recent checkpoints to keep.
    return c
