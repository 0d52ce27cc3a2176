"""SAC throughput of ofe_jax against its peers sbx (JAX) and Stable-Baselines3 (PyTorch), on the
same machine in one process, on Hopper-v5 (obs 11, action 3), batch 256, Adam 3e-4, automatic
temperature, two critics, plain MLP actor and critics of width 256x2 and 2048x2.

Two measurements:

1. Gradient-update throughput (updates/s). Each library's replay buffer holds the same 10,000
   uniform-random Hopper-v5 transitions (collected once with ``gymnasium.make``); one timed call
   is K updates, each sampling a fresh minibatch of 256 from that buffer and doing one full SAC
   step (critic, actor, temperature, Polyak):
     ofe_jax  one jitted (state donated) lax.scan of replay.sample + agent.update, what
              ``Trainer._learn_seed`` does with uniform replay, built from the public API;
     sbx      ``model.train(gradient_steps=K, batch_size=256)`` (samples K x 256 from its SB3
              numpy buffer on the host, then one jitted fori_loop of K updates);
     SB3      ``model.train(gradient_steps=K', batch_size=256)``, K' = max(1, K // 10) (a Python
              loop of single updates: K' only sets the call length), run twice: with torch
              threads = usable cores ("sb3") and with 1 thread ("sb3_1t"). On a shared,
              oversubscribed CPU torch's OpenMP team of 2 threads can be several times slower
              than 1 thread on small nets; ratios use the faster SB3 setting.
   The first call of every cell (compilation, allocation) is excluded. Calls of the
   libraries are interleaved in rounds of about ``--quantum`` seconds each, so that a change of
   background load hits all alike, until each has ``--seconds`` of timed calls;
   updates/s = K / median call time (the mean rate over all calls is stored as well).

2. Full training loop (env steps/s with one update per env step, width 256): 1,000 random-action
   steps, then 1,000-step chunks of act + env step + store + 1 update:
     ofe_jax  ``Trainer.run_chunk`` (configs/default.py, Hopper-v5, C MuJoCo backend, 1 env,
              updates_per_step 1, random_steps 1000, log_every 1000; no evaluation);
     sbx/SB3  ``SAC("MlpPolicy", "Hopper-v5", learning_starts=1000, train_freq=1,
              gradient_steps=1).learn(1000, reset_num_timesteps=False)`` per chunk (SB3 with the
              faster torch thread count of the width-256 update cell).
   The random chunk and the first learning chunk (compilation) are excluded; chunks of the three
   are interleaved; env steps/s = 1000 / median chunk time.

    python -m benchmarks.compare_peers --out benchmarks/results/compare_peers_cpu.json
    python -m benchmarks.compare_peers --quick --out /tmp/peers.json    # smoke check, a few minutes
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
import types
import warnings
from importlib import metadata

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import update_throughput
from ofe_jax import agents, replay
from ofe_jax.train import Trainer

ENV = "Hopper-v5"
OBS_SIZE, ACTION_SIZE = 11, 3
BATCH = 256
LEARNING_RATE = 3e-4
BUFFER_SIZE = 1_000_000  # the peers' default; ofe_jax's configs/default.py too
FILL = 10_000  # transitions in the replay for the update measurement
WIDTHS = (256, 2048)
DEFAULT_K = {256: 200, 2048: 2}  # updates per timed call
LOOP_RANDOM_STEPS = 1000
LOOP_CHUNK = 1000
# sb3: torch threads = usable cores; sb3_1t: 1 torch thread (see the module docstring).
UPDATE_RUNS = ("ofe_jax", "sbx", "sb3", "sb3_1t")
LOOP_RUNS = ("ofe_jax", "sbx", "sb3")


# ----------------------------------------------------------------------------------------------
# Machine load


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


class LoadProbe:
    """Load averages, and the CPU share that other processes used, over a span of this run."""

    def __init__(self):
        self.load_before = os.getloadavg()
        self.jiffies = _cpu_jiffies()
        self.own = _own_cpu_s()
        self.start = time.perf_counter()

    def finish(self) -> dict:
        wall = time.perf_counter() - self.start
        own = _own_cpu_s() - self.own
        out = {"wall_s": round(wall, 1), "own_cpu_s": round(own, 1),
               "load_average_before": [round(x, 2) for x in self.load_before],
               "load_average_after": [round(x, 2) for x in os.getloadavg()]}
        jiffies = _cpu_jiffies()
        if self.jiffies and jiffies:
            hz = os.sysconf("SC_CLK_TCK")
            busy = (jiffies[0] - self.jiffies[0]) / hz
            total = (jiffies[1] - self.jiffies[1]) / hz
            out["machine_busy_cpu_s"] = round(busy, 1)
            out["machine_total_cpu_s"] = round(total, 1)
            # Busy CPU time of everything else, as a share of the machine's CPU time.
            out["other_processes_cpu_share"] = round(max(0.0, busy - own) / max(total, 1e-9), 3)
        return out


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# ----------------------------------------------------------------------------------------------
# Data and models


def collect(n: int, seed: int = 0) -> dict:
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
    from configs import default

    config = default.get_config()
    config.env.name = ENV
    config.env.backend = "mujoco"
    config.env.num_envs = 1
    config.seeds = 1
    config.updates_per_step = float(updates_per_step)
    config.random_steps = LOOP_RANDOM_STEPS
    config.log_every = LOOP_CHUNK
    config.eval_every = 10**9  # Trainer.run_chunk never evaluates; experiment.py would
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


# ----------------------------------------------------------------------------------------------
# Update throughput


class OfeUpdates:
    def __init__(self, width: int, k: int, data: dict):
        config = ofe_config(width)
        self.agent = agents.make(config.agent, OBS_SIZE, ACTION_SIZE)
        self.gamma = config.agent.gamma
        transitions = self._transitions(data)
        buffer = replay.init(BUFFER_SIZE, jax.tree.map(lambda x: x[0], transitions),
                             obs_dtype=config.replay.obs_dtype)
        self.buffer = jax.jit(replay.add, donate_argnums=0)(buffer, transitions)
        self.state = jax.jit(self.agent.init)(jax.random.PRNGKey(0))
        self.key = jax.random.PRNGKey(1)
        agent = self.agent

        def call(state, buffer, key):
            # What Trainer._learn_seed does with uniform replay: K x (sample, update) in a scan.
            def update(state, k):
                return agent.update(state, replay.sample(buffer, k, BATCH))

            key, sub = jax.random.split(key)
            state, metrics = jax.lax.scan(update, state, jax.random.split(sub, k))
            return state, key, jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)

        self.fn = jax.jit(call, donate_argnums=0)

    def _transitions(self, data):
        return agents.make_transition(jnp.asarray(data["obs"]), jnp.asarray(data["action"]),
                                      data["reward"], data["terminated"],
                                      jnp.asarray(data["next_obs"]), self.gamma)

    def __call__(self) -> None:
        self.state, self.key, self.metrics = self.fn(self.state, self.buffer, self.key)
        jax.block_until_ready((self.state, self.metrics))

    def finite(self) -> bool:
        return bool(all(np.isfinite(np.asarray(v)).all() for v in self.metrics.values()))


class PeerUpdates:
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
        values = self.model.logger.name_to_value
        losses = [v for name, v in values.items() if "loss" in name]
        return bool(losses) and bool(np.all(np.isfinite(losses)))


def set_torch_threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def interleave(runners: dict, seconds: float, quantum: float, min_calls: int) -> dict:
    """Round-robin over the runners, about `quantum` seconds (at least one call) per runner per
    round, until every runner has `seconds` of timed calls and `min_calls` calls."""
    times = {name: [] for name in runners}
    rounds = 0
    while any(sum(t) < seconds or len(t) < min_calls for t in times.values()):
        rounds += 1
        for name, run in runners.items():
            spent = 0.0
            while spent == 0.0 or spent < quantum:
                start = time.perf_counter()
                run()
                elapsed = time.perf_counter() - start
                times[name].append(elapsed)
                spent += elapsed
    return {"times": times, "rounds": rounds}


def update_runner(lib: str, width: int, k: int, data: dict, cores: int):
    if lib == "ofe_jax":
        return OfeUpdates(width, k, data)
    if lib == "sbx":
        return PeerUpdates("sbx", width, k, data, cores)
    return PeerUpdates("sb3", width, sb3_k(k), data, 1 if lib == "sb3_1t" else cores)


def sb3_k(k: int) -> int:
    """SB3's train() is a Python loop of single updates: K only sets its call length."""
    return max(1, k // 10)


def measure_updates(width: int, k: int, data: dict, seconds: float, quantum: float,
                    min_calls: int, cores: int) -> tuple[list[dict], dict]:
    probe = LoadProbe()
    runners, setup = {}, {}
    for lib in UPDATE_RUNS:
        start = time.perf_counter()
        runner = update_runner(lib, width, k, data, cores)
        built = time.perf_counter() - start
        start = time.perf_counter()
        runner()  # compilation (ofe_jax, sbx), allocation and caches: excluded
        setup[lib] = {"build_s": built, "first_call_s": time.perf_counter() - start}
        runners[lib] = runner
        print(f"  {lib:7s} width {width}: first call (compile/warm-up) "
              f"{setup[lib]['first_call_s']:.1f} s", flush=True)
    result = interleave(runners, seconds, quantum, min_calls)
    load = probe.finish()
    rows = []
    for lib in UPDATE_RUNS:
        t, runner = result["times"][lib], runners[lib]
        kk = runner.k if isinstance(runner, PeerUpdates) else k
        median = statistics.median(t)
        rows.append({
            "lib": lib, "width": width, "batch": BATCH, "updates_per_call": kk,
            "torch_threads": getattr(runner, "torch_threads", None),
            "updates_per_s": kk / median, "mean_updates_per_s": kk * len(t) / sum(t),
            "calls": len(t), "median_call_s": median, "min_call_s": min(t),
            "max_call_s": max(t), "timed_s": sum(t), "call_s": [round(x, 4) for x in t],
            "first_call_s": setup[lib]["first_call_s"], "build_s": setup[lib]["build_s"],
            "finite_losses": runner.finite()})
        print(f"  {lib:7s} width {width}: {kk / median:10.1f} updates/s (K={kk}, {len(t)} "
              f"calls, median {median:.3f} s)", flush=True)
    return rows, {**load, "rounds": result["rounds"]}


# ----------------------------------------------------------------------------------------------
# Full training loop


class OfeLoop:
    def __init__(self, width: int, cores: int):
        self.trainer = Trainer(ofe_config(width))
        self.carry = self.trainer.init(self.trainer.seed_keys())
        self.cores = cores

    def __call__(self) -> None:
        set_torch_threads(self.cores)
        self.carry, self.metrics = self.trainer.run_chunk(self.carry)
        jax.block_until_ready((self.carry, self.metrics))

    def counters(self) -> dict:
        return {"env_steps": int(self.carry.step), "updates": int(self.carry.agent.step),
                "finite_losses": bool(np.isfinite(np.asarray(self.metrics["critic_loss"])).all())}


class PeerLoop:
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
        losses = [v for name, v in self.model.logger.name_to_value.items() if "loss" in name]
        return {"env_steps": int(self.model.num_timesteps), "updates": int(self.model._n_updates),
                "finite_losses": bool(np.all(np.isfinite(losses))) if losses else None}


def measure_loop(width: int, seconds: float, min_chunks: int, cores: int,
                 sb3_threads: int) -> tuple[list[dict], dict]:
    probe = LoadProbe()
    runners, warmup = {}, {}
    for lib in LOOP_RUNS:
        if lib == "ofe_jax":
            runner = OfeLoop(width, cores)
        else:
            runner = PeerLoop(lib, width, cores if lib == "sbx" else sb3_threads)
        spans = []
        for _ in range(2):  # the random-action chunk, then the first learning chunk (compile)
            start = time.perf_counter()
            runner()
            spans.append(time.perf_counter() - start)
        warmup[lib] = spans
        runners[lib] = runner
        print(f"  {lib:7s} loop: random chunk {spans[0]:.1f} s, first learning chunk "
              f"{spans[1]:.1f} s (excluded)", flush=True)
    before = {lib: runners[lib].counters() for lib in LOOP_RUNS}
    result = interleave(runners, seconds, quantum=0.0, min_calls=min_chunks)
    load = probe.finish()
    rows = []
    for lib in LOOP_RUNS:
        t = result["times"][lib]
        after = runners[lib].counters()
        steps = after["env_steps"] - before[lib]["env_steps"]
        updates = after["updates"] - before[lib]["updates"]
        median = statistics.median(t)
        rows.append({
            "lib": lib, "width": width, "batch": BATCH, "chunk_env_steps": LOOP_CHUNK,
            "torch_threads": getattr(runners[lib], "torch_threads", None),
            "env_steps_per_s": LOOP_CHUNK / median, "mean_env_steps_per_s": steps / sum(t),
            "chunks": len(t), "median_chunk_s": median, "min_chunk_s": min(t),
            "max_chunk_s": max(t), "chunk_s": [round(x, 3) for x in t],
            "timed_env_steps": steps, "timed_updates": updates,
            "updates_per_env_step": updates / steps, "random_steps": LOOP_RANDOM_STEPS,
            "excluded_chunks_s": [round(x, 2) for x in warmup[lib]], "counters_after": after})
        print(f"  {lib:7s} loop: {LOOP_CHUNK / median:8.1f} env steps/s ({len(t)} chunks, "
              f"{updates} updates in {steps} steps)", flush=True)
    return rows, {**load, "rounds": result["rounds"]}


# ----------------------------------------------------------------------------------------------
# Report


def versions() -> dict:
    out = {}
    for name in ("sbx-rl", "stable_baselines3", "torch", "gymnasium", "mujoco", "jax", "jaxlib",
                 "flax", "optax"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state() -> dict:
    """The commit, and the files of the package/configs that differ from it (the working tree
    is what ran)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "ofe_jax",
                                "configs"], capture_output=True, text=True,
                               check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"commit": head, "uncommitted_changes": [line.strip() for line in dirty]}


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def best_sb3(rows: list[dict], key: str) -> dict:
    """The faster of the SB3 runs (torch threads = cores, or 1) among `rows`."""
    return max((r for r in rows if r["lib"].startswith("sb3")), key=lambda r: r[key])


def compute_ratios(update_rows: list[dict], loop_rows: list[dict]) -> dict:
    ratios = {}
    groups = [(f"updates_{w}x2", [r for r in update_rows if r["width"] == w], "updates_per_s")
              for w in sorted({r["width"] for r in update_rows})]
    if loop_rows:
        groups.append(("loop_env_steps_256x2", loop_rows, "env_steps_per_s"))
    for name, rows, key in groups:
        by = {r["lib"]: r[key] for r in rows}
        best = best_sb3(rows, key)
        ratios[name] = {"ofe_jax/sbx": ratio(by["ofe_jax"], by["sbx"]),
                        "ofe_jax/sb3_best": ratio(by["ofe_jax"], best[key]),
                        "sb3_best_torch_threads": best["torch_threads"]}
        for lib in ("sb3", "sb3_1t"):
            if lib in by:
                ratios[name][f"ofe_jax/{lib}"] = ratio(by["ofe_jax"], by[lib])
    return ratios


def markdown(update_rows: list[dict], loop_rows: list[dict], report: dict) -> str:
    cores = report["torch_threads"]
    head = (f"| Hopper-v5, SAC, batch 256 | width | ofe_jax | sbx | SB3, 1 torch thread | "
            f"SB3, {cores} torch threads | ofe_jax / sbx | ofe_jax / SB3 (faster) |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]

    def add(what, rows, key, fmt):
        by = {r["lib"]: r for r in rows}
        sb3_rows = {r["torch_threads"]: r[key] for r in rows if r["lib"].startswith("sb3")}
        cell = lambda v: "—" if v is None else fmt.format(v)
        best = best_sb3(rows, key)[key]
        lines.append(
            f"| {what} | {rows[0]['width']}x2 | {cell(by['ofe_jax'][key])} | "
            f"{cell(by['sbx'][key])} | {cell(sb3_rows.get(1))} | {cell(sb3_rows.get(cores))} | "
            f"{ratio(by['ofe_jax'][key], by['sbx'][key]):.2f}x | "
            f"{ratio(by['ofe_jax'][key], best):.2f}x |")

    for width in sorted({r["width"] for r in update_rows}):
        rows = [r for r in update_rows if r["width"] == width]
        add("gradient updates/s (sample + update)", rows, "updates_per_s",
            "{:,.0f}" if width < 1000 else "{:,.2f}")
    if loop_rows:
        add("training loop env steps/s (1 update/step)", loop_rows, "env_steps_per_s",
            "{:,.0f}")
    v = report["versions"]
    lines.append("")
    lines.append(
        f"{report['cpu']} CPU, {report['usable_cores']} cores, all libraries in one process, "
        f"interleaved, {report['date'][:10]}; jax {v['jax']}, flax {v['flax']}, sbx "
        f"{v['sbx-rl']}, SB3 {v['stable_baselines3']}, torch {v['torch']}. Load average "
        f"{report['load_average_before'][0]:.1f} before / {report['load_average_after'][0]:.1f} "
        f"after; other processes used {100 * (report['other_processes_cpu_share'] or 0):.0f}% "
        f"of the CPU during the run. `{report['command']}`")
    return "\n".join(lines)


METHOD = (
    "All libraries run on the same CPU inside one Python process, their timed calls interleaved "
    "(so that changes of the background load hit all alike). Same SAC for all: plain MLP actor "
    "and two critics of width x 2, ReLU, batch {batch}, Adam lr {lr} (actor, critics, "
    "temperature), automatic temperature from 1.0 with target entropy -|A|, tau 0.005, gamma "
    "0.99, float32 maths, replay capacity {capacity:,}. ofe_jax and sbx use JAX/XLA's CPU thread "
    "pool (default flags); SB3 is measured with torch.set_num_threads({cores}) (= usable cores, "
    "'sb3') and with 1 thread ('sb3_1t'), because on this shared, oversubscribed 2-core CPU "
    "torch's OpenMP with 2 threads was several times slower than 1 thread for the small 256x2 "
    "nets; ratios against SB3 use the faster of the two. "
    "(1) Update throughput: every library's replay holds the same {fill:,} uniform-random "
    "Hopper-v5 transitions from gymnasium.make (written directly into ofe_jax's replay and into "
    "the SB3 ReplayBuffer that sbx also uses). One timed call = K updates, each drawing a fresh "
    "uniform minibatch of {batch} from the replay and doing a full SAC step (critic, actor, "
    "temperature, Polyak): ofe_jax = one jax.jit (state donated) of a lax.scan of replay.sample "
    "+ agent.update (what Trainer._learn_seed does with uniform replay, built from the public "
    "replay/agents API); sbx = model.train(gradient_steps=K, batch_size={batch}) (host-side "
    "numpy sampling of K x {batch}, then one jitted fori_loop); SB3 = model.train(gradient_steps="
    "K', batch_size={batch}) with K' = max(1, K // 10) (its train() is a Python loop of single "
    "updates, so K' only sets the call length). The first call of every (library, width) is "
    "excluded (compilation, allocation); calls are interleaved in rounds of about {quantum:g} s "
    "per library until each has {seconds:g} s of timed calls (at least {min_calls}); "
    "updates_per_s = K / median call time (mean_updates_per_s = timed updates / timed seconds). "
    "(2) Training loop, width 256x2: {random} uniform-random steps, then act + env step + store "
    "+ 1 gradient update per env step, timed in chunks of {chunk} env steps: ofe_jax = "
    "Trainer.run_chunk (configs/default.py with Hopper-v5, env.backend 'mujoco' = C MuJoCo via "
    "jax.pure_callback, 1 env, updates_per_step 1, random_steps {random}, log_every {chunk}; "
    "run_chunk never evaluates and no checkpoint/CSV host work is timed); sbx and SB3 = "
    "SAC('MlpPolicy', 'Hopper-v5', learning_starts={random}, train_freq=1, gradient_steps=1, "
    "same sizes).learn({chunk}, reset_num_timesteps=False) per chunk (gymnasium env, Monitor, "
    "DummyVecEnv; their per-learn() set-up is inside the timed span); SB3 with the faster torch "
    "thread count of part (1) at width 256. The random chunk and the first learning chunk "
    "(compilation) are excluded; chunks are interleaved across libraries until each has "
    "{seconds:g} s and at least {min_chunks} chunks; env_steps_per_s = {chunk} / median chunk "
    "time; timed_updates / timed_env_steps checks 1 update per env step. Load: os.getloadavg "
    "and /proc/stat around each part; other_processes_cpu_share = (machine busy CPU time - this "
    "process's CPU time) / machine CPU time over the part.")


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/compare_peers.json")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: 2 s per cell, one timed loop chunk")
    parser.add_argument("--seconds", type=float, default=None,
                        help="timed span per library and cell (default 10; 2 with --quick)")
    parser.add_argument("--quantum", type=float, default=1.0,
                        help="seconds per library per interleaving round (update cells)")
    parser.add_argument("--widths", nargs="*", type=int, default=list(WIDTHS), choices=WIDTHS)
    parser.add_argument("--k256", type=int, default=DEFAULT_K[256],
                        help="updates per timed call at width 256 (SB3: a tenth)")
    parser.add_argument("--k2048", type=int, default=DEFAULT_K[2048],
                        help="updates per timed call at width 2048 (SB3: a tenth, at least 1)")
    parser.add_argument("--no-loop", action="store_true", help="skip the training-loop part")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch threads of the 'sb3' runs (default: usable cores)")
    parser.add_argument("--loop-sb3-threads", type=int, default=None,
                        help="torch threads of SB3's training loop (default: the faster "
                             "setting of the width-256 update cell)")
    parser.add_argument("--note", default="", help="free text stored in the JSON")
    args = parser.parse_args(argv)
    args.seconds = args.seconds if args.seconds is not None else (2.0 if args.quick else 10.0)
    min_calls = 2 if args.quick else 3
    min_chunks = 1 if args.quick else 3
    ks = {256: args.k256, 2048: args.k2048}

    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = args.torch_threads or usable
    torch.set_num_threads(cores)
    warnings.filterwarnings("ignore", message=".*[Ee]xplicitly requested dtype.*")

    # Machine part of update_throughput's header (device, CPU, cores, jax/flax versions, ...).
    base = update_throughput.header(
        types.SimpleNamespace(quick=args.quick, seconds=args.seconds, call_seconds=None,
                              min_calls=min_calls), argv)
    report = {"benchmark": "compare_peers"}
    for key in ("device", "platform", "device_count", "cpu", "cores", "usable_cores", "date",
                "default_matmul_precision", "xla_flags"):
        report[key] = base[key]
    report["versions"] = {**base["versions"], **versions()}
    report["torch_threads"] = cores
    report["torch_interop_threads"] = torch.get_num_interop_threads()
    report["command"] = "python -m benchmarks.compare_peers " + shlex.join(argv)
    report["git"] = git_state()
    report["quick"] = args.quick
    report["seconds_per_cell"] = args.seconds
    report["env"] = ENV
    report["method"] = METHOD.format(
        batch=BATCH, lr=LEARNING_RATE, capacity=BUFFER_SIZE, cores=cores, fill=FILL,
        quantum=args.quantum, seconds=args.seconds, min_calls=min_calls,
        random=LOOP_RANDOM_STEPS, chunk=LOOP_CHUNK, min_chunks=min_chunks)
    if args.note:
        report["note"] = args.note

    overall = LoadProbe()
    print(f"# compare_peers: {report['cpu']} x {report['usable_cores']}, jax "
          f"{report['versions']['jax']}, torch threads {cores} (and 1); load average "
          f"{overall.load_before[0]:.2f}", flush=True)
    start = time.perf_counter()
    data = collect(FILL)
    update_rows, parts = [], {}
    for width in args.widths:
        print(f"# update throughput, width {width}x2, K={ks[width]} (SB3 {sb3_k(ks[width])})",
              flush=True)
        rows, parts[f"updates_{width}x2"] = measure_updates(
            width, ks[width], data, args.seconds, args.quantum, min_calls, cores)
        update_rows += rows
    loop_rows = []
    if not args.no_loop:
        sb3_threads = args.loop_sb3_threads
        if sb3_threads is None:
            rows256 = [r for r in update_rows if r["width"] == 256]
            sb3_threads = best_sb3(rows256, "updates_per_s")["torch_threads"] if rows256 else 1
        print(f"# training loop, width 256x2 (SB3 with {sb3_threads} torch threads)", flush=True)
        loop_rows, parts["loop_256x2"] = measure_loop(256, args.seconds, min_chunks, cores,
                                                      sb3_threads)
    summary = overall.finish()
    report["wall_s"] = round(time.perf_counter() - start, 1)
    report["load_average_before"] = summary["load_average_before"]
    report["load_average_after"] = summary["load_average_after"]
    report["other_processes_cpu_share"] = summary.get("other_processes_cpu_share")
    report["process_cpu_s"] = summary["own_cpu_s"]
    report["parts"] = parts
    report["update_rows"] = update_rows
    report["loop_rows"] = loop_rows
    report["ratios"] = compute_ratios(update_rows, loop_rows)
    report["table_markdown"] = markdown(update_rows, loop_rows, report)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"# {report['wall_s']:.0f} s; other processes used "
          f"{100 * (report['other_processes_cpu_share'] or 0):.0f}% of the CPU; wrote {args.out}")
    print()
    print(report["table_markdown"])
    return report


if __name__ == "__main__":
    main()
