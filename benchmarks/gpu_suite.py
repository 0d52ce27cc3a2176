"""The accelerator suite (issue 13), one part per command, each under a wall-clock cap.

    python -m benchmarks.gpu_suite --part <part> --out benchmarks/results/gpu_<device>_<part>.json

Parts (the cells of each run in the order given, most important first):
  env          the machine: jax.devices(), nvidia-smi, versions, and a smoke jitted matmul
  correctness  MJX parity against Gymnasium for every task, measured errors against the tests'
               tolerances (tests/_parity_mjx.py, which needs no pytest), and the agent tests
               that need no C MuJoCo under pytest (pytest must be installed there)
  envs         env steps/s of the mjx backend (VecEnv.step in a jitted scan, random actions,
               auto-reset on) for Hopper, Walker2d, HalfCheetah, Ant, Humanoid at batch 1 ... 16384
  updates      SAC/TD3 updates/s x {MLP 256x2, DenseMLP 2x2048, + OFENet} x seeds {1, 8, 32} x
               matmuls {float32, TF32, bfloat16}, Humanoid sizes, batch 256; achieved FLOP/s
               against the device's peak for that precision
  loop         the whole training loop: SAC MLP 256x2 on Hopper-v5 to 1M env steps, 1 and 8
               seeds, backends mjx and mujoco: wall time (compile included), env steps/s, eval;
               with --chunks N: N learning calls only (random_steps --random-steps), each call
               timed, the peak memory, the 1M-step time projected from the calls and beside it
               the plan's projection (benchmarks/results/plan_<device>.json) and its error
  memory       peak device memory of the Humanoid OJK21 config with a 1M replay per seed at 1, 4,
               8 seeds, float32 and bfloat16 observations (one subprocess per cell), and the
               largest seed count that fits

benchmarks/gpu_once.sh runs the parts that fit one 8-minute command, each into its own part
(--into-part) of one JSON. The JSON (benchmarks/common.py's schema) is rewritten after every
cell, so a part stopped by its cap (--cap-s, checked between cells and between training
chunks) or killed keeps what it measured: results.rows, results.planned (cells),
results.completed and results.stopped_by.
Reuses env_throughput, update_throughput and flops; the parity checks are the tests' own.

On the lent GPU machine (../shared/gpu/README.md) the agent tests need pytest carried as
wheels: `EXTRA_WHEELS="pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 pytest-timeout==2.4.0"
bash ../shared/gpu/wheels.sh`. Smoke-checked on CPU only so far (tiny cells of every part).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree

import jax
import numpy as np

from benchmarks import common, env_throughput, flops, update_throughput

PARTS = ("env", "correctness", "envs", "updates", "loop", "memory")
DEFAULT_CAP_S = 540.0  # a part stops starting cells after this (one command may run 600 s)
ENV_TASKS = ("Humanoid-v5", "Hopper-v5", "Ant-v5", "HalfCheetah-v5", "Walker2d-v5")
ENV_BATCHES = (4096, 16384, 1024, 64, 1)
PRECISIONS = {"tf32": ("tensorfloat32", "float32"), "bf16": ("default", "bfloat16"),
              "float32": ("float32", "float32")}  # name: (matmul precision, compute_dtype)
UPDATE_NETWORKS = ("dense2048x2+ofenet", "mlp256x2", "dense2048x2")
UPDATE_SEEDS = (1, 8, 32)
LOOP_RUNS = (("mjx", 1), ("mjx", 8), ("mujoco", 1), ("mujoco", 8))  # (backend, seeds)
MEMORY_SEEDS = (1, 4, 8)
AGENT_TESTS = ("test_agents.py", "test_sac.py", "test_td3.py", "test_probe.py",
               "test_post2021_agents.py", "test_post2021_modules.py", "test_networks.py",
               "test_replay.py", "test_prioritized.py")


class Part:
    """The record of one part, written after every cell; `time_left()` against the cap."""

    def __init__(self, args, argv, planned: list):
        self.args, self.start, self.rows = args, time.perf_counter(), []
        self.stopped: str | None = None
        self.run = common.Run("gpu_suite", argv, {"part": args.part, "cap_s": args.cap_s,
                                                  "planned": planned})
        print(self.run.banner(f"part {args.part}, {len(planned)} cells, cap {args.cap_s:g} s"),
              flush=True)

    def time_left(self) -> float:
        return self.args.cap_s - (time.perf_counter() - self.start)

    def add(self, row: dict, replace: bool = False) -> None:
        """Append `row` (replace: it replaces the last row, a cell measured in steps)."""
        self.rows[len(self.rows) - replace:] = [row]
        print(json.dumps(row, default=str), flush=True)
        self.write(completed=False, stopped_by=None)

    def write(self, completed: bool, stopped_by: str | None) -> dict:
        record = self.run.finish({"rows": self.rows, "completed": completed,
                                  "stopped_by": stopped_by}, METHODS[self.args.part],
                                 self.args.note)
        common.write_json(self.args.out, record, part=self.args.into_part,
                          container="gpu_once" if self.args.into_part else None)
        return record

    def cells(self, planned: list):
        """Yields the planned cells while time is left; records where the cap stopped them."""
        for i, cell in enumerate(planned):
            if self.time_left() <= 0:
                self.stopped = f"cap {self.args.cap_s:g} s reached before cell {i}: {cell}"
                return
            yield cell
        self.stopped = None


# ----------------------------------------------------------------------------------------------
# Parts


def env_part(part: Part, planned: list) -> None:
    """The machine, and a smoke jitted matmul: a version break shows in seconds."""
    for cell in part.cells(planned):
        start = time.perf_counter()
        if cell == "devices":
            smi = None
            try:
                smi = subprocess.run(["nvidia-smi"], capture_output=True, text=True,
                                     timeout=30).stdout
            except (OSError, subprocess.SubprocessError) as e:
                smi = f"nvidia-smi: {e}"
            part.add({"cell": cell, "devices": [str(d) for d in jax.devices()],
                      "device_kind": jax.devices()[0].device_kind,
                      "versions": common.versions(), "plugins": cuda_plugins(),
                      "nvidia_smi": smi})
        else:  # smoke: import the trainer, one jitted matmul
            from ofe_jax.training import Trainer  # noqa: F401 - the import is the check

            x = jax.numpy.ones((1024, 1024))
            first = float(jax.jit(lambda a: (a @ a).sum())(x))
            part.add({"cell": cell, "result": first, "expected": 1024.0 ** 3,
                      "passed": first == 1024.0 ** 3, "seconds": time.perf_counter() - start})


def cuda_plugins() -> dict:
    """Versions of the installed jax CUDA plugin packages (jax-cuda12/13-plugin, -pjrt)."""
    from importlib import metadata

    return {d.metadata["Name"]: d.version for d in metadata.distributions()
            if (d.metadata["Name"] or "").lower().startswith("jax-cuda")}


def correctness(part: Part, planned: list) -> None:
    sys.path.insert(0, os.path.join(common.REPO_ROOT, "tests"))
    import _parity_mjx as parity  # the tests' own rollouts and tolerances (needs no pytest)

    from ofe_jax.envs.gymnasium import gymnasium_rollout

    for cell in part.cells(planned):
        if cell == "agent_tests":
            part.add(agent_tests())
            continue
        scale, steps, obs_tol, reward_tol = parity.PARAMS[cell]
        start = time.perf_counter()
        env, _ = parity.mjx_task(cell)
        actions = parity.random_actions(env, scale, parity.SCAN_STEPS)
        ref = gymnasium_rollout(cell, actions, seed=parity.SEED)
        obs0, (obs, reward, terminated) = parity.rollout(cell, ref, actions)
        errors = {"obs0": parity.rel_err(obs0, ref["obs0"]),
                  "obs": parity.rel_err(obs[:steps], ref["obs"][:steps]),
                  "reward": parity.rel_err(reward[:steps], ref["reward"][:steps])}
        tolerances = {"obs0": 1e-5, "obs": obs_tol, "reward": reward_tol}
        same_terminated = bool(np.array_equal(terminated[:steps], ref["terminated"][:steps]))
        part.add({"task": cell, "steps": steps, "errors": errors, "tolerances": tolerances,
                  "terminated_equal": same_terminated, "seconds": time.perf_counter() - start,
                  "passed": same_terminated and all(errors[k] < tolerances[k] for k in errors)})


def agent_tests() -> dict:
    """pytest on the agent tests (one process); the failures by name."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = os.path.join(tmp, "junit.xml")
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
             f"--junitxml={xml}", *[os.path.join("tests", f) for f in AGENT_TESTS]],
            cwd=common.REPO_ROOT, capture_output=True, text=True)
        failed = []
        if os.path.exists(xml):
            for case in ElementTree.parse(xml).getroot().iter("testcase"):
                for failure in (*case.iter("failure"), *case.iter("error")):
                    failed.append({"test": f"{case.get('classname')}::{case.get('name')}",
                                   "message": (failure.get("message") or "")[:500]})
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    return {"task": "agent_tests", "exit_code": done.returncode, "summary": summary,
            "failed": failed, "passed": done.returncode == 0,
            "stderr_tail": done.stderr[-2000:] if done.returncode else ""}


def envs_part(part: Part, planned: list) -> None:
    for task, batch in part.cells(planned):
        part.add(env_throughput.measure_vecenv(task, "mjx", batch, part.args.min_seconds))


def updates_part(part: Part, planned: list) -> None:
    device = jax.devices()[0]
    for precision, algo, network, seeds in part.cells(planned):
        matmuls, dtype = PRECISIONS[precision]
        with jax.default_matmul_precision(matmuls):
            row = update_throughput.measure(algo, network, seeds, part.args.min_seconds, 1.0, 3,
                                            fixed_k=part.args.fixed_k, compute_dtype=dtype)
        peak = flops.device_peak(device)
        if device.platform == "cpu":
            peak_flops = peak.get("flop_per_s")  # the float32 SIMD peak
        elif precision == "bf16":  # Hopper: dense BF16 = 2 x dense TF32 (datasheets)
            tf32 = peak.get("tf32_dense_flop_per_s")
            peak_flops = 2 * tf32 if tf32 else None
        else:
            peak_flops = peak.get({"float32": "fp32_flop_per_s",
                                   "tf32": "tf32_dense_flop_per_s"}[precision])
        achieved = row["useful_gflop_per_s"] * 1e9
        part.add({**row, "precision": precision, "peak_flop_per_s": peak_flops,
                  "peak_source": peak.get("source", peak.get("kind")),
                  "fraction_of_peak": achieved / peak_flops if peak_flops else None})


def loop_part(part: Part, planned: list) -> None:
    from ofe_jax.config import paper
    from ofe_jax.training import Trainer

    if part.args.chunks:
        for i, (backend, seeds) in enumerate(part.cells(planned)):
            deadline = time.perf_counter() + part.time_left() / (len(planned) - i)
            first = len(part.rows)
            loop_calls(part.args, backend, seeds, deadline,
                       lambda row, first=first: part.add(row, replace=len(part.rows) > first))
        return
    for i, (backend, seeds) in enumerate(part.cells(planned)):
        config = paper.get_config("Hopper-v5,sac,mlp")
        config.env.backend, config.seeds = backend, seeds
        config.total_steps = part.args.total_steps
        deadline = time.perf_counter() + part.time_left() / (len(planned) - i)
        start = time.perf_counter()
        trainer = Trainer(config)
        carry = trainer.init(trainer.seed_keys())
        run = trainer.run_chunk  # compiles its programs on first use (trainer.compile_s)
        row = {"task": "Hopper-v5", "backend": trainer.env.backend, "seeds": seeds,
               "total_steps": config.total_steps, "steps_per_chunk": trainer.plan.steps_per_chunk}
        chunks = 0
        while int(carry.step) < config.total_steps and (chunks == 0 or
                                                        time.perf_counter() < deadline):
            carry, _ = jax.block_until_ready(run(carry))
            chunks += 1
        row["compile_s"] = trainer.compile_s
        wall = time.perf_counter() - start
        steps = int(carry.step)
        returns = np.asarray(trainer.eval_return(carry)).tolist()
        part.add({**row, "env_steps_reached": steps, "finished": steps >= config.total_steps,
                  "wall_s_incl_compile": wall, "env_steps_per_s_per_seed": steps / wall,
                  "env_steps_per_s_total": steps * seeds / wall, "eval_return_per_seed": returns})
        del carry, run, trainer


LOOP_SPEC = "Hopper-v5,sac,mlp"


def loop_calls(args, backend: str, seeds: int, deadline: float, report) -> None:
    """`args.chunks` learning calls of the paper's Hopper SAC MLP config (1M env steps,
    random_steps `args.random_steps`, call_seconds `args.call_seconds`), paced as the training
    loop paces them, each timed (the random phase's compiled calls summed); the 1M-step time
    projected from them, and the plan's projection of the same config. report(row) gets the
    row so far after init and after every call that is not summed (complete: False), and at
    the end, so a step killed by its timeout keeps what it measured."""
    from ofe_jax.config import paper
    from ofe_jax.training import Trainer

    config = paper.get_config(LOOP_SPEC)
    config.env.backend, config.seeds = backend, seeds
    config.random_steps = args.random_steps
    config.call_seconds = args.call_seconds or config.call_seconds
    start = time.perf_counter()
    trainer = Trainer(config)
    carry = jax.block_until_ready(trainer.init(trainer.seed_keys()))
    calls, learned = [], 0
    collected = {"calls": 0, "iterations": 0, "seconds": 0.0}  # compiled collect calls
    device = jax.devices()[0]
    planned = planned_iteration_s(device.device_kind, trainer.env.backend, seeds)

    def row(complete: bool) -> dict:
        per_iteration = [c["seconds"] / c["iterations"] for c in calls
                         if c["kind"] == "learn" and c["compile_s"] == 0.0 and c["iterations"]]
        measured = float(np.median(per_iteration)) if per_iteration else None
        collect = (collected["seconds"] / collected["iterations"]
                   if collected["iterations"] else None)
        iterations = config.total_steps // config.env.num_envs  # all at the learning cost
        stats = device.memory_stats() or {}
        return {"task": "Hopper-v5", "spec": LOOP_SPEC, "backend": trainer.env.backend,
                "seeds": seeds, "random_steps": config.random_steps,
                "call_seconds": config.call_seconds, "complete": complete, "calls": calls,
                "collect_calls": collected, "compile_s": trainer.compile_s,
                "wall_s": time.perf_counter() - start, "env_steps_reached": int(carry.step),
                "episode_return_mean": float(np.nanmean(loop_summary(carry)["episode_return"])),
                "learn_s_per_iteration": measured,
                "projected_1m_s_from_calls": measured * iterations if measured else None,
                "collect_s_per_iteration": collect,
                "plan_learn_s_per_iteration": planned.get("learn"),
                "plan_error": plan_error(planned.get("learn"), measured),
                "plan_collect_s_per_iteration": planned.get("collect"),
                "plan_collect_error": plan_error(planned.get("collect"), collect),
                "peak_bytes_in_use": stats.get("peak_bytes_in_use"),
                "bytes_limit": stats.get("bytes_limit")}

    report(row(False))
    while learned < args.chunks and int(carry.step) < config.total_steps \
            and (learned == 0 or time.perf_counter() < deadline):
        kind, length = trainer.next_call(carry)
        compiled, tick = trainer.compile_s, time.perf_counter()
        carry = jax.block_until_ready(trainer.call(carry, (kind, length)))
        seconds, compile_s = time.perf_counter() - tick, trainer.compile_s - compiled
        kind, length = trainer.last_call  # the length the pacing chose
        trainer.pacing.observe(kind, length, seconds - compile_s)  # as run_chunk paces
        if kind == "collect" and compile_s == 0.0:  # the random phase: summed, not listed
            collected = {"calls": collected["calls"] + 1,
                         "iterations": collected["iterations"] + length,
                         "seconds": collected["seconds"] + seconds}
            continue
        calls.append({"kind": kind, "iterations": length, "seconds": seconds,
                      "compile_s": compile_s})
        learned += kind == "learn" and compile_s == 0.0
        report(row(False))
    report(row(True))


def loop_summary(carry) -> dict:
    from ofe_jax.training import loop

    return {k: np.asarray(v) for k, v in loop.summary(carry.log).items()}


def planned_iteration_s(device_kind: str, backend: str, seeds: int) -> dict:
    """The plan's seconds per iteration of LOOP_SPEC's collect and learn programs on this
    device (benchmarks/results/plan_<h100|h200>.json, the mjx backend, the same seeds): each
    program's projected seconds over its iterations in the planned run; {} where it has none."""
    device = next((d for d in ("h100", "h200") if d in device_kind.lower()), None)
    path = os.path.join(common.REPO_ROOT, "benchmarks", "results", f"plan_{device}.json")
    if device is None or backend != "mjx" or not os.path.exists(path):
        return {}
    with open(path) as f:
        rows = json.load(f)["results"]["rows"]
    row = next((r for r in rows if r["spec"] == LOOP_SPEC and r["seeds"] == seeds), None)
    if row is None:
        return {}
    from ofe_jax.config import paper

    c = paper.get_config(LOOP_SPEC)  # the config the plan planned
    iterations = {"collect": c.random_steps // c.env.num_envs,
                  "learn": (c.total_steps - c.random_steps) // c.env.num_envs}
    return {k: row["projected_s_by_program"][k] / n for k, n in iterations.items()}


def plan_error(planned: float | None, measured: float | None) -> float | None:
    """(plan - measured) / measured, None where either is missing."""
    return (planned - measured) / measured if planned and measured else None


def memory_cell(seeds: int, obs_dtype: str, capacity: int, log_every: int) -> dict:
    """One Humanoid OJK21 run's peak device memory after init and two chunks, the second
    learning (this process)."""
    from ofe_jax.config import paper
    from ofe_jax.training import Trainer

    config = paper.get_config("Humanoid-v5,sac,ojk21")
    config.seeds, config.replay.capacity, config.replay.obs_dtype = seeds, capacity, obs_dtype
    config.log_every = log_every or config.log_every
    config.random_steps = config.log_every  # chunk 2 pretrains OFENet and learns
    trainer = Trainer(config)
    carry = trainer.init(trainer.seed_keys())
    for _ in range(2):
        carry, _ = jax.block_until_ready(trainer.run_chunk(carry))
    stats = jax.devices()[0].memory_stats() or {}
    carry_bytes = sum(x.nbytes for x in jax.tree.leaves(carry))
    return {"seeds": seeds, "obs_dtype": obs_dtype, "replay_capacity": capacity,
            "log_every": config.log_every, "carry_bytes": carry_bytes,
            "peak_bytes_in_use": stats.get("peak_bytes_in_use"),
            "bytes_limit": stats.get("bytes_limit")}


def memory_part(part: Part, planned: list) -> None:
    for seeds, obs_dtype in part.cells(planned):
        part.add(memory_subprocess(part, seeds, obs_dtype))
    # Then double the seeds (bfloat16 observations) until a run does not fit or time is up.
    fits = [r["seeds"] for r in part.rows if not r.get("failed")]
    seeds = max(fits) if fits else None
    while seeds is not None and part.time_left() > 0:
        row = memory_subprocess(part, 2 * seeds, "bfloat16")
        part.add({**row, "search": "doubling"})
        if row.get("failed"):
            break
        seeds *= 2
    part.largest_fitting_seeds = seeds


def memory_subprocess(part: Part, seeds: int, obs_dtype: str) -> dict:
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}  # measure use, not a pool
    command = [sys.executable, "-m", "benchmarks.gpu_suite", "--memory-cell",
               f"{seeds},{obs_dtype},{part.args.capacity},{part.args.log_every}"]
    try:
        done = subprocess.run(command, cwd=common.REPO_ROOT, capture_output=True, text=True,
                              env=env, timeout=max(60.0, part.time_left()))
    except subprocess.TimeoutExpired:
        return {"seeds": seeds, "obs_dtype": obs_dtype, "failed": True, "error": "timed out"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        return json.loads(lines[-1])
    return {"seeds": seeds, "obs_dtype": obs_dtype, "replay_capacity": part.args.capacity,
            "failed": True, "error": (done.stderr.strip().splitlines() or ["?"])[-1][:500]}


METHODS = {
    "env": "jax.devices(), nvidia-smi, versions; smoke: a jitted 1024x1024 matmul's sum "
           "against 1024^3 after importing the Trainer",
    "correctness": "tests/_parity_mjx.py's rollouts and tolerances (float32 on the "
                   "device) against gymnasium.make on C MuJoCo; agent tests under pytest",
    "envs": env_throughput.METHOD + " mjx backend only.",
    "updates": update_throughput.METHOD + " Precision: float32 = "
               "jax.default_matmul_precision('float32'); tf32 = 'tensorfloat32'; bf16 = "
               "agent.compute_dtype bfloat16. Peak: vendor dense peak of that precision "
               "(bf16 = 2 x TF32 dense on Hopper).",
    "loop": "Trainer(paper Hopper-v5,sac,mlp) run_chunk until total_steps or the part's time "
            "share; wall time includes Trainer build, init and compile; eval_return at the end. "
            "With --chunks N: Trainer.call one call at a time (blocked until ready) until N "
            "learning calls that compiled nothing (or the time share); learn_s_per_iteration = "
            "their median seconds / iterations; projected_1m_s_from_calls = that x total_steps "
            "/ num_envs (every iteration at the learning cost: an upper bound); "
            "collect_s_per_iteration = the random phase's compiled calls' seconds / iterations; "
            "plan_learn_s_per_iteration (plan_collect_...) = the plan's projected learn (collect) "
            "seconds / that program's iterations in the planned run (plan_<device>.json, same "
            "spec and seeds, mjx); plan_error (plan_collect_error) = (plan - measured) / "
            "measured; memory: device memory_stats()",
    "memory": "one subprocess per cell (XLA_PYTHON_CLIENT_PREALLOCATE=false): Trainer(paper "
              "Humanoid-v5,sac,ojk21), init + one chunk, device memory_stats peak_bytes_in_use",
}


def planned_cells(args) -> list:
    if args.part == "env":
        return ["devices", "smoke"]
    if args.part == "correctness":
        from ofe_jax import envs

        return [*(args.tasks or envs.NAMES), *([] if args.no_agent_tests else ["agent_tests"])]
    if args.part == "envs":
        return [(t, b) for t in (args.tasks or ENV_TASKS) for b in (args.batches or ENV_BATCHES)]
    if args.part == "updates":
        return [(p, a, n, s) for n in (args.networks or UPDATE_NETWORKS)
                for s in (args.seeds or UPDATE_SEEDS) for p in (args.precisions or PRECISIONS)
                for a in (args.algos or update_throughput.ALGOS)]
    if args.part == "loop":
        return [(b, s) for b in (args.backends or dict.fromkeys(b for b, _ in LOOP_RUNS))
                for s in (args.seeds or dict.fromkeys(s for _, s in LOOP_RUNS))]
    return [(s, d) for s in (args.seeds or MEMORY_SEEDS) for d in ("bfloat16", "float32")]


def main(argv: list[str] | None = None) -> dict | None:
    argv = common.default_argv(argv)
    parser = common.argument_parser(__doc__, "benchmarks/results/gpu_suite.json")
    parser.add_argument("--part", choices=PARTS)
    parser.add_argument("--cap-s", type=float, default=DEFAULT_CAP_S,
                        help=f"start no cell after this many seconds (default {DEFAULT_CAP_S})")
    parser.add_argument("--tasks", nargs="*")
    parser.add_argument("--batches", nargs="*", type=int)
    parser.add_argument("--algos", nargs="*", choices=update_throughput.ALGOS)
    parser.add_argument("--networks", nargs="*", choices=list(update_throughput.NETWORKS))
    parser.add_argument("--precisions", nargs="*", choices=list(PRECISIONS))
    parser.add_argument("--seeds", nargs="*", type=int)
    parser.add_argument("--min-seconds", type=float, default=2.0, help="timed span per cell")
    parser.add_argument("--total-steps", type=int, default=1_000_000, help="loop: env steps")
    parser.add_argument("--capacity", type=int, default=1_000_000, help="memory: replay size")
    parser.add_argument("--log-every", type=int, default=0,
                        help="memory: env steps per chunk (default: the config's)")
    parser.add_argument("--backends", nargs="*", choices=("mjx", "mujoco"), help="loop")
    parser.add_argument("--memory-cell", help=argparse.SUPPRESS)
    parser.add_argument("--into-part", help="write the record as this part of --out (a "
                        "multi-part gpu_once JSON), keeping its other parts")
    parser.add_argument("--fixed-k", type=int, help="updates: K updates per call in every "
                        "cell (no recompiles; default: chosen from a guess of the FLOP/s)")
    parser.add_argument("--no-agent-tests", action="store_true", help="correctness: parity only")
    parser.add_argument("--chunks", type=int, default=0, help="loop: this many learning calls "
                        "only, each timed (default 0: run to --total-steps)")
    parser.add_argument("--random-steps", type=int, default=1000, help="loop with --chunks")
    parser.add_argument("--call-seconds", type=float, default=0.0, help="loop with --chunks: "
                        "the config's call_seconds (default: the config's)")
    args = parser.parse_args(argv)
    if args.memory_cell:  # a subprocess of the memory part
        seeds, dtype, capacity, log_every = args.memory_cell.split(",")
        print(json.dumps(memory_cell(int(seeds), dtype, int(capacity), int(log_every))),
              flush=True)
        return None
    if args.part is None:
        parser.error("--part is required")
    planned = planned_cells(args)
    part = Part(args, argv, [list(c) if isinstance(c, tuple) else c for c in planned])
    {"env": lambda: env_part(part, planned),
     "correctness": lambda: correctness(part, planned), "envs": lambda: envs_part(part, planned),
     "updates": lambda: updates_part(part, planned), "loop": lambda: loop_part(part, planned),
     "memory": lambda: memory_part(part, planned)}[args.part]()
    record = part.write(completed=part.stopped is None, stopped_by=part.stopped)
    if args.part == "memory":
        record["results"]["largest_fitting_seeds_of_those_tried"] = part.largest_fitting_seeds
        common.write_json(args.out, record)
    print(f"# wrote {args.out}: {len(part.rows)} of {len(planned)} cells"
          f"{'' if part.stopped is None else ' (' + part.stopped + ')'}")
    return record


if __name__ == "__main__":
    main()
