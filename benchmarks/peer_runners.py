"""The runners of benchmarks/compare_peers.py: the same SAC in ofe_jax, sbx and Stable-Baselines3,
each a callable that does one timed unit of work (K updates, or one chunk of the training loop)
and blocks until it is done.

    OfeUpdates / PeerUpdates    K x (sample a minibatch from the replay, one SAC update)
    OfeLoop / PeerLoop          LOOP_CHUNK env steps of act + step + store + 1 update per step

The ofe_jax side is built from its public API only: ``ofe_jax.training.build`` (the parts of a
run from a config), ``replay`` protocol init/add, and ``ofe_jax.training.learn`` (what the
training loop runs: K x (replay sample, agent.update, replay update) in one lax.scan) or the
``Trainer``.
"""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from ofe_jax import agents, training
from ofe_jax.config import defaults

ENV = "Hopper-v5"
OBS_SIZE, ACTION_SIZE = 11, 3
BATCH = 256
LEARNING_RATE = 3e-4
BUFFER_SIZE = 1_000_000  # the peers' default; ofe_jax's default config too
LOOP_RANDOM_STEPS = 1000
LOOP_CHUNK = 1000


def set_torch_threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def sb3_k(k: int) -> int:
    """SB3's train() is a Python loop of single updates: K only sets its call length."""
    return max(1, k // 10)


# ----------------------------------------------------------------------------------------------
# Data and models


def collect_random(n: int, seed: int = 0) -> dict:
    """n uniform-random Hopper-v5 transitions from gymnasium (reset at termination/truncation;
    next_obs is the true final observation)."""
    env = gymnasium.make(ENV)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    data = {k: [] for k in ("obs", "action", "reward", "terminated", "next_obs")}
    for _ in range(n):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for k, v in zip(data, (obs, action, reward, terminated, next_obs)):
            data[k].append(v)
        obs = env.reset()[0] if terminated or truncated else next_obs
    env.close()
    out = {k: np.asarray(v, np.float32) for k, v in data.items()}
    assert np.all(np.abs(out["action"]) <= 1.0)  # Hopper's bounds are [-1, 1]: no rescaling
    return out


def ofe_config(width: int, updates_per_step: float = 1.0):
    """ofe_jax's default config as the peers' SAC: Hopper-v5 on C MuJoCo, one env and seed,
    plain MLP width x 2, no OFENet, batch 256, Adam 3e-4 everywhere; never evaluates."""
    config = defaults.get_config()
    config.env.name = ENV
    config.env.backend = "mujoco"
    config.env.num_envs = 1
    config.seeds = 1
    config.updates_per_step = float(updates_per_step)
    config.random_steps = LOOP_RANDOM_STEPS
    config.log_every = LOOP_CHUNK
    config.eval_every = 10**9  # Trainer.run_chunk never evaluates; the host loop would
    config.checkpoint_every = 10**9
    config.total_steps = 10**9
    config.replay.capacity = BUFFER_SIZE
    a = config.agent
    a.batch_size = BATCH
    a.network.kind = "mlp"
    a.network.units = width
    a.network.layers = 2
    a.ofenet.enabled = False
    a.actor_learning_rate = a.critic_learning_rate = a.alpha_learning_rate = LEARNING_RATE
    return config


def peer_model(lib: str, width: int, env, **kwargs):
    """sbx.SAC or stable_baselines3.SAC with the same sizes and hyperparameters as ofe_jax."""
    if lib == "sbx":
        import sbx
        cls = sbx.SAC
    else:
        import stable_baselines3
        cls = stable_baselines3.SAC
    return cls("MlpPolicy", env, learning_rate=LEARNING_RATE, buffer_size=BUFFER_SIZE,
               batch_size=BATCH, tau=0.005, gamma=0.99, ent_coef="auto",
               policy_kwargs={"net_arch": [width, width]}, seed=0, verbose=0, **kwargs)


def fill_peer_buffer(model, data: dict) -> None:
    """Writes the transitions straight into the SB3 ReplayBuffer (sbx uses the same class)."""
    from stable_baselines3.common.logger import Logger

    rb = model.replay_buffer
    n = len(data["reward"])
    rb.observations[:n, 0] = data["obs"]
    rb.next_observations[:n, 0] = data["next_obs"]
    rb.actions[:n, 0] = data["action"]
    rb.rewards[:n, 0] = data["reward"]
    rb.dones[:n, 0] = data["terminated"]
    rb.timeouts[:n, 0] = 0.0
    rb.pos, rb.full = n, False
    model.set_logger(Logger(None, []))  # train() records its losses into a logger


def _losses_finite(logger_values: dict) -> bool | None:
    losses = [v for name, v in logger_values.items() if "loss" in name]
    return bool(np.all(np.isfinite(losses))) if losses else None


# ----------------------------------------------------------------------------------------------
# Update throughput


class OfeUpdates:
    """K updates per call: ofe_jax.training.learn on one seed of a run with one env and
    updates_per_step = K (so K updates per iteration), jitted with the agent state and the
    replay donated, as the training loop's carry is."""

    torch_threads = None

    def __init__(self, width: int, k: int, data: dict):
        config = ofe_config(width, updates_per_step=k)
        parts = training.build(config)
        self.k = k
        transitions = agents.make_transition(
            jnp.asarray(data["obs"]), jnp.asarray(data["action"]), data["reward"],
            data["terminated"], jnp.asarray(data["next_obs"]), config.agent.gamma)
        buffer = parts.replay.init(config.replay.capacity,
                                   jax.tree.map(lambda x: x[0], transitions))
        buffer = jax.jit(parts.replay.add, donate_argnums=0)(buffer, transitions)
        self.buffer = jax.tree.map(lambda x: x[None], buffer)  # [1 seed, ...]
        self.state = jax.jit(jax.vmap(parts.agent.init))(jax.random.PRNGKey(0)[None])
        self.key, self.updates = jax.random.PRNGKey(1), 0

        def call(state, buffer, key, updates):
            key, learn_key = jax.random.split(key)
            state, buffer, metrics = training.learn(parts, state, buffer, learn_key[None],
                                                    updates, jnp.float32(0.0))
            return state, buffer, key, metrics

        self.fn = jax.jit(call, donate_argnums=(0, 1))

    def __call__(self) -> None:
        self.state, self.buffer, self.key, self.metrics = self.fn(
            self.state, self.buffer, self.key, jnp.int32(self.updates))
        self.updates += self.k
        jax.block_until_ready((self.state, self.metrics))

    def finite(self) -> bool:
        return bool(all(np.isfinite(np.asarray(v)).all() for v in self.metrics.values()))


class PeerUpdates:
    """K updates per call: model.train(gradient_steps=K, batch_size=256) of sbx or SB3."""

    def __init__(self, lib: str, width: int, k: int, data: dict, torch_threads: int):
        self.lib, self.k, self.torch_threads = lib, k, torch_threads
        self.model = peer_model(lib, width, gymnasium.make(ENV))
        fill_peer_buffer(self.model, data)

    def __call__(self) -> None:
        set_torch_threads(self.torch_threads)
        self.model.train(gradient_steps=self.k, batch_size=BATCH)
        if self.lib == "sbx":
            jax.block_until_ready((self.model.policy.qf_state, self.model.policy.actor_state))

    def finite(self) -> bool:
        return bool(_losses_finite(self.model.logger.name_to_value))


def update_runner(lib: str, width: int, k: int, data: dict, cores: int):
    """lib: "ofe_jax", "sbx", "sb3" (torch threads = cores) or "sb3_1t" (1 torch thread)."""
    if lib == "ofe_jax":
        return OfeUpdates(width, k, data)
    if lib == "sbx":
        return PeerUpdates("sbx", width, k, data, cores)
    return PeerUpdates("sb3", width, sb3_k(k), data, 1 if lib == "sb3_1t" else cores)


# ----------------------------------------------------------------------------------------------
# Full training loop


class OfeLoop:
    """One Trainer.run_chunk (LOOP_CHUNK env steps) per call."""

    def __init__(self, width: int, cores: int):
        self.trainer = training.Trainer(ofe_config(width))
        self.carry = self.trainer.init(self.trainer.seed_keys())
        self.cores = cores

    def __call__(self) -> None:
        set_torch_threads(self.cores)
        self.carry, self.metrics = self.trainer.run_chunk(self.carry)
        jax.block_until_ready((self.carry, self.metrics))

    def counters(self) -> dict:
        return {"env_steps": int(self.carry.step), "updates": int(self.carry.updates),
                "finite_losses": bool(np.isfinite(np.asarray(self.metrics["critic_loss"])).all())}


class PeerLoop:
    """One model.learn(LOOP_CHUNK) per call, continuing the same run."""

    def __init__(self, lib: str, width: int, torch_threads: int):
        set_torch_threads(torch_threads)  # SB3 seeds torch and builds its nets here
        self.model = peer_model(lib, width, ENV, learning_starts=LOOP_RANDOM_STEPS,
                                train_freq=1, gradient_steps=1)
        self.first, self.torch_threads = True, torch_threads

    def __call__(self) -> None:
        set_torch_threads(self.torch_threads)
        self.model.learn(LOOP_CHUNK, reset_num_timesteps=self.first, log_interval=None)
        self.first = False

    def counters(self) -> dict:
        return {"env_steps": int(self.model.num_timesteps), "updates": int(self.model._n_updates),
                "finite_losses": _losses_finite(self.model.logger.name_to_value)}
