"""MJX model options (config env.mjx.*): what cheaper constraint-solver settings cost in Gymnasium
parity and buy in speed, per task; and the thread pool of the C MuJoCo backend's host step.

    python -m benchmarks.mjx_options --part cpu --out benchmarks/results/mjx_options_cpu.json
    python -m benchmarks.mjx_options --part threads --out benchmarks/results/mjx_options_cpu.json
    JAX_PLATFORMS=cpu <venv with JAX's CUDA plugin: pip install -e '.[plan]'>/bin/python \\
        -m benchmarks.mjx_options --part h100 --out benchmarks/results/mjx_options_h100_plan.json

Parts (each is parts[<part>] of the --out file, rewritten after every cell; --resume keeps the
cells already there and runs the others; two parts running at once need two files):
  cpu      per task x setting (SETTINGS): (a) parity: the mjx rollout from Gymnasium's reset
           state against gymnasium.make(task) under the same random actions: the rollout,
           actions (scale of the action range) and steps of tests/_parity_mjx.py;
           max |obs error|, its value at some steps, and the tests' relative error
           |ours - ref| / (1 + |ref|) of obs and reward against the tests' tolerances;
           (b) CPU env steps/s of VecEnv.step (clip + auto-reset + stats) in a jitted scan over
           given random actions, at a small and a medium batch (compile and warm-up excluded).
           Cells run kind by kind (parity, then speed at each batch; settings in SETTINGS order):
           a stopped run keeps the most useful ones
  h100     per task x setting x batch (8, 4096): that same VecEnv scan compiled for a deviceless
           H100 (ofe_jax.aot, as `python -m ofe_jax.plan` does): kernels, host syncs, bytes and
           matmul FLOPs per VecEnv step, MJX's solver loop counted at C MuJoCo's measured
           iterations (aot/physics.py), the auto-reset counted as its costlier branch (an upper
           bound: it runs when some env's episode ended) -> projected seconds per VecEnv step
           and env steps/s (aot/model.py; a projection, not measured)
  threads  MujocoHost.step (the "mujoco" backend's host side: numpy in and out, no JAX) at
           num_threads 1, 2, 4 and batch 1 ... 64 for Hopper and Humanoid, with the pool used at
           every batch (THREAD_MIN_BATCH = 1 while measuring): env steps/s, for THREAD_MIN_BATCH
"""

from __future__ import annotations

import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common
from ofe_jax import envs
from ofe_jax.envs import gymnasium

PARTS = ("cpu", "h100", "threads")
TASKS = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5", "Humanoid-v5")
# Settings: env.mjx config fields (envs.mjx_options turns them into envs.make's options).
SETTINGS = {
    "exact": {},  # the XML's physics (Gymnasium's; Humanoid: Newton for PGS, the deviation)
    "iter4_ls8": {"solver_iterations": 4, "ls_iterations": 8},
    "iter1_ls4": {"solver_iterations": 1, "ls_iterations": 4},
    "euler_iter4_ls8": {"integrator": "euler", "solver_iterations": 4, "ls_iterations": 8},
}
CPU_BATCHES = (8, 64)
CPU_SCAN_LENGTH = 5  # VecEnv steps per compiled call on CPU (MJX steps there are slow)
PLAN_BATCHES = (8, 4096)
PLAN_SCAN_LENGTH = 4  # VecEnv steps in the scan compiled for the target (counts are per step)
PLAN_PRECISION = "highest"  # MJX's matmuls (envs/backends.py PHYSICS_MATMUL_PRECISION)
# VecEnv's auto-reset: "select" resets every env's next state at every step (the reset's work
# in every step, so speeds and counts do not depend on when episodes end); the default "cond"
# (a lax.cond taken when some env is done) costs the same when taken, within 0.1% in the H100
# projection (benchmarks/results/autoreset_h100_plan.json), about 6% less when not taken.
AUTORESET = "select"
ERROR_AT_STEPS = (1, 10, 25, 40, 50)
THREAD_TASKS = ("Hopper-v5", "Humanoid-v5")
THREAD_COUNTS = (1, 2, 4)
THREAD_BATCHES = (1, 2, 4, 8, 16, 32, 64)
METHOD = {
    "cpu": "parity: tests/_parity_mjx.py's make_task/rollout (float32 MJX from "
           "Gymnasium's reset state, same actions, seed SEED, the tests' action scale and steps; "
           "compiled with the tests' options) against gymnasium.make; obs_abs = max |obs - ref| "
           "over the steps, obs_rel / reward_rel = max |ours - ref| / (1 + |ref|) (the tests' "
           "metric); speed: one jitted call = VecEnv.reset + a lax.scan of CPU_SCAN_LENGTH "
           "VecEnv.steps over fixed random actions, XLA's default options, compile and one "
           "warm-up call excluded; env_steps_per_s = batch x CPU_SCAN_LENGTH / median call.",
    "h100": "the VecEnv scan of the cpu part (PLAN_SCAN_LENGTH steps) lowered with abstract "
            "arguments on a deviceless H100 topology and compiled by XLA:GPU here "
            "(aot/planner.compile_program); counts from the optimised HLO (aot/hlo.py), matmul "
            "FLOPs from the jaxpr (aot/flops.py), MJX's solver while loop at physics.profile's "
            "solver_trips (C MuJoCo, same model options, batch min(batch, 32)); seconds from "
            "aot/model.program_seconds at float32 ('highest') peak. Projection (not measured).",
    "threads": "MujocoHost.step on float64 state vectors of `batch` envs (reset with noise, "
               "uniform random actions), timed calls for --thread-seconds per cell after 3 "
               "warm-up calls, envs.backends.THREAD_MIN_BATCH = 1 so the pool splits every "
               "batch; the grid measured --rounds times, thread counts of a cell back to back; "
               "env_steps_per_s = median over the rounds of batch / median call time.",
}


def settings_for(name: str) -> dict[str, dict]:
    """SETTINGS, less those that equal another on this task (an integrator the XML has)."""
    xml = envs.make(name, backend="mujoco").physics_model.opt.integrator
    out = {}
    for label, fields in SETTINGS.items():
        integrator = fields.get("integrator")
        if integrator and int(envs.backends.INTEGRATORS[integrator]) == int(xml):
            continue  # HalfCheetah's XML is Euler already: the same as without the override
        out[label] = fields
    return out


def vecenv_scan(venv: envs.VecEnv):
    """(VecEnvState, actions [T, N, A]) -> VecEnvState after T VecEnv steps."""
    def run(vs, actions):
        return jax.lax.scan(lambda s, a: (venv.step(s, a), None), vs, actions)[0]

    return run


def autoreset_of(venv: envs.VecEnv) -> str:
    return venv.autoreset


def random_actions(venv: envs.VecEnv, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(venv.action_low, venv.action_high,
                       (length, venv.num_envs, venv.action_size)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Part "cpu"


def _parity_module():
    sys.path.insert(0, os.path.join(common.REPO_ROOT, "tests"))
    import _parity_mjx as parity  # the tests' rollout, actions, steps and tolerances

    return parity


def parity_cell(parity, name: str, options: dict, ref: dict, actions: np.ndarray) -> dict:
    scale, steps, obs_tol, reward_tol = parity.PARAMS[name]
    tick = time.perf_counter()
    task = parity.make_task(name, **options)
    obs0, (obs, reward, terminated) = parity.rollout(name, ref, actions, task)
    abs_by_step = np.abs(np.asarray(obs[:steps], np.float64) - ref["obs"][:steps]).max(axis=1)
    return {
        "action_scale": scale, "steps": steps,
        "obs_abs": float(abs_by_step.max()),
        "obs_abs_at_step": {t: float(abs_by_step[t - 1]) for t in ERROR_AT_STEPS if t <= steps},
        "obs_rel": parity.rel_err(obs[:steps], ref["obs"][:steps]),
        "reward_rel": parity.rel_err(reward[:steps], ref["reward"][:steps]),
        "obs0_rel": parity.rel_err(obs0, ref["obs0"]),
        "terminated_equal": bool(np.array_equal(terminated[:steps], ref["terminated"][:steps])),
        "tolerances": {"obs_rel": obs_tol, "reward_rel": reward_tol},
        "within_test_tolerances": bool(parity.rel_err(obs[:steps], ref["obs"][:steps]) < obs_tol
                                       and parity.rel_err(reward[:steps], ref["reward"][:steps])
                                       < reward_tol),
        "seconds": round(time.perf_counter() - tick, 1)}


def speed_cell(env: envs.Env, batch: int, min_seconds: float) -> dict:
    """env steps/s of `batch` envs: one compiled call resets them (VecEnv.reset) and runs
    CPU_SCAN_LENGTH VecEnv steps (the reset is one forward pass against the scan's
    CPU_SCAN_LENGTH x frame_skip steps, and saves a compile)."""
    venv = envs.VecEnv(env, batch, autoreset=AUTORESET)
    actions = jnp.asarray(random_actions(venv, CPU_SCAN_LENGTH))
    scan = vecenv_scan(venv)
    run = jax.jit(lambda key, actions: scan(venv.reset(key), actions))
    key = jax.random.key(0)
    tick = time.perf_counter()
    jax.block_until_ready(run(key, actions))  # compile + warm-up
    compile_s = time.perf_counter() - tick
    times = common.time_calls(lambda: jax.block_until_ready(run(key, actions)), min_seconds, 2)
    stats = common.call_stats(times)
    return {"batch": batch, "scan_length": CPU_SCAN_LENGTH, "autoreset": autoreset_of(venv),
            "env_steps_per_s": CPU_SCAN_LENGTH * batch / stats["median_call_s"],
            "compile_and_warmup_s": round(compile_s, 1), **stats}


def cells(args, kinds: list, by_setting: bool = False) -> list:
    """(task, setting label, fields, kind) in the order run, most useful first so that a stopped
    run keeps those: every kind in turn (by_setting: every setting in turn, all its kinds),
    settings in --settings order, tasks in TASKS order."""
    per_task = {name: settings_for(name) for name in args.tasks}
    order = [(k, s) for s in args.settings for k in kinds] if by_setting else \
        [(k, s) for k in kinds for s in args.settings]
    return [(name, label, per_task[name][label], kind) for kind, label in order
            for name in args.tasks if label in per_task[name]]


def cpu_part(args, out: "Output") -> None:
    parity, refs = _parity_module(), {}
    kinds = ["parity"] + [f"speed{b}" for b in args.batches]
    for name, label, fields, kind in cells(args, kinds):
        if out.done((name, label, kind)):
            continue
        options = envs.mjx_options(fields)
        row = {"task": name, "setting": label, "options": options, "kind": kind}
        if kind == "parity":
            if name not in refs:
                scale = parity.PARAMS[name][0]
                actions = parity.random_actions(envs.make(name, backend="mujoco"), scale,
                                                parity.SCAN_STEPS)
                refs[name] = actions, gymnasium.gymnasium_rollout(name, actions, seed=parity.SEED)
            actions, ref = refs[name]
            row["parity"] = parity_cell(parity, name, options, ref, actions)
        else:
            env = envs.make(name, backend="mjx", **options)
            row["speed"] = speed_cell(env, int(kind[len("speed"):]), args.min_seconds)
        out.add((name, label, kind), row)


# ----------------------------------------------------------------------------------------------
# Part "h100"


def plan_cell(name: str, options: dict, batch: int, target) -> dict:
    from ofe_jax.aot import model, physics, planner

    env = envs.make(name, backend="mjx", **options)
    venv = envs.VecEnv(env, batch, autoreset=AUTORESET)
    sharding = target.sharding()
    abstract = lambda tree: jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)
    state = abstract(jax.eval_shape(venv.reset, jax.random.key(0)))
    actions = jax.ShapeDtypeStruct((PLAN_SCAN_LENGTH, batch, venv.action_size), jnp.float32,
                                   sharding=sharding)
    profile = physics.profile(env, batch)
    trips_for = physics.trip_rule(profile, env.episode_length)
    result = planner.compile_program(jax.jit(vecenv_scan(venv)), (state, actions), target,
                                     trips_for)
    row = {"batch": batch, "scan_length": PLAN_SCAN_LENGTH, "autoreset": autoreset_of(venv),
           "physics": profile, **result}
    if result["compiled"]:
        seconds = model.program_seconds(result["counts"], result["matmul_flops"], target,
                                        PLAN_PRECISION)
        per_step = seconds["total_s"] / PLAN_SCAN_LENGTH
        counts = result["counts"]
        row.update(seconds=seconds, per_vecenv_step={
            "kernels": counts["kernels"] / PLAN_SCAN_LENGTH,
            "syncs": counts["syncs"] / PLAN_SCAN_LENGTH,
            "bytes": counts["bytes"] / PLAN_SCAN_LENGTH,
            "matmul_flops": result["matmul_flops"] / PLAN_SCAN_LENGTH,
            "seconds": per_step}, env_steps_per_s=batch / per_step,
            label="projection (not measured)")
    return row


def h100_part(args, out: "Output") -> None:
    from ofe_jax.aot import targets

    target = targets.load(args.device)
    out.parameters["target"] = {"name": target.name, "device_kind": target.device_kind,
                                "peaks": target.peaks, "bandwidth": target.bandwidth,
                                "launch_s": target.launch_s, "sync_s": target.sync_s,
                                "sources": target.sources}
    for name, label, fields, batch in cells(args, args.plan_batches, by_setting=True):
        if not out.done((name, label, batch)):
            options = envs.mjx_options(fields)
            out.add((name, label, batch), {"task": name, "setting": label, "options": options,
                                           **plan_cell(name, options, batch, target)})


# ----------------------------------------------------------------------------------------------
# Part "threads"


def threads_cell(name: str, threads: int, batch: int, seconds: float) -> dict:
    from ofe_jax.envs import backends

    env = envs.make(name, backend="mujoco")
    host = backends.MujocoHost(env.task.model, env.task.frame_skip, env.task.fields, threads)
    rng = np.random.default_rng(0)
    model = env.task.model
    qpos = model.qpos0 + rng.uniform(-5e-3, 5e-3, (batch, model.nq))
    qvel = rng.uniform(-5e-3, 5e-3, (batch, model.nv))
    state, _ = host.init(qpos, qvel)
    ctrl = rng.uniform(env.action_low, env.action_high, (batch, env.action_size))
    saved, backends.THREAD_MIN_BATCH = backends.THREAD_MIN_BATCH, 1
    try:
        times = common.time_calls(lambda: host.step(state, ctrl), seconds, 5, warmup=3)
    finally:
        backends.THREAD_MIN_BATCH = saved
    return common.call_stats(times)


def threads_part(args, out: "Output") -> None:
    """Every (task, batch) cell measures its thread counts back to back, and the whole grid is
    measured args.rounds times: a cell's rate is the median over the rounds (the other jobs'
    load drifts over minutes)."""
    rows = {}
    for round_index in range(args.rounds):
        for name in THREAD_TASKS:
            for batch in THREAD_BATCHES:
                for threads in THREAD_COUNTS:
                    stats = threads_cell(name, threads, batch, args.thread_seconds)
                    row = rows.setdefault((name, threads, batch), {
                        "task": name, "num_threads": threads, "batch": batch,
                        "rounds_env_steps_per_s": [], "rounds_best_env_steps_per_s": []})
                    row["rounds_env_steps_per_s"].append(batch / stats["median_call_s"])
                    row["rounds_best_env_steps_per_s"].append(batch / stats["min_call_s"])
                    row["env_steps_per_s"] = float(np.median(row["rounds_env_steps_per_s"]))
        out.rows, out.keys = list(rows.values()), [list(k) for k in rows]
        out.summary = {"rounds_done": round_index + 1, **thread_summary(out.rows)}
        print(json.dumps(out.summary["best_pool_over_one_thread"]), flush=True)
        out.write()


def thread_summary(rows: list) -> dict:
    """Per task and batch: the speed-up of the best pool over one thread; and the smallest batch
    from which every larger measured batch of every task gains >= 10% from the pool."""
    rate = {(r["task"], r["num_threads"], r["batch"]): r["env_steps_per_s"] for r in rows}
    speedup = {}
    for (task, threads, batch), value in rate.items():
        if threads > 1 and (task, 1, batch) in rate:
            key = f"{task}/batch{batch}"
            speedup[key] = max(speedup.get(key, 0.0), value / rate[(task, 1, batch)])
    batches = sorted({b for (_, _, b) in rate})
    gains = lambda b: all(v >= 1.1 for k, v in speedup.items() if k.endswith(f"/batch{b}"))
    threshold = next((b for i, b in enumerate(batches) if all(gains(x) for x in batches[i:])),
                     None)
    return {"best_pool_over_one_thread": speedup, "smallest_batch_gaining_10pct": threshold}


# ----------------------------------------------------------------------------------------------
# Output and command line


class Output:
    """One part's record, rewritten after every cell (with --resume: the cells already in the
    file are kept and not run again)."""

    def __init__(self, args, argv, part: str, parameters: dict):
        self.args, self.part, self.parameters = args, part, parameters
        self.run = common.Run("mjx_options", argv, parameters)
        self.rows, self.keys, self.summary = [], [], None
        if args.resume:
            try:
                with open(args.out) as f:
                    old = json.load(f)["parts"][part]["results"]
                self.rows, self.keys = old["rows"], [tuple(k) for k in old["keys"]]
            except (OSError, KeyError, ValueError):
                pass
        print(self.run.banner(f"part {part}"), flush=True)

    def done(self, key: tuple) -> bool:
        return list(key) in [list(k) for k in self.keys]

    def add(self, key: tuple, row: dict) -> None:
        self.rows.append(row)
        self.keys.append(key)
        print(json.dumps(brief(row), default=str), flush=True)
        self.write()

    def write(self) -> None:
        results = {"rows": self.rows, "keys": self.keys}
        if self.summary is not None:
            results["summary"] = self.summary
        record = self.run.finish(results, METHOD[self.part], self.args.note)
        record["notes"]["cpu"] = ("the CPU is shared (2 cores, a training run and other jobs "
                                  "beside this one): the speeds are lower bounds, see load")
        common.write_json(self.args.out, record, part=self.part, container="mjx_options")


def brief(row: dict) -> dict:
    """A row without its bulky parts, for the log."""
    drop = ("physics", "memory", "counts", "seconds")
    return {k: v for k, v in row.items() if k not in drop}


def table(cpu_path: str, plan_path: str) -> str:
    """Task x setting: parity, CPU env steps/s, projected H100 env steps/s, kernels and host
    syncs per VecEnv step, from the records of the cpu and h100 parts."""
    def rows(path, part):
        try:
            with open(path) as f:
                return json.load(f)["parts"][part]["results"]["rows"]
        except (OSError, KeyError, ValueError):
            return []

    cpu, plan = rows(cpu_path, "cpu"), rows(plan_path, "h100")
    parity = {(r["task"], r["setting"]): r["parity"] for r in cpu if r["kind"] == "parity"}
    speed = {(r["task"], r["setting"], r["speed"]["batch"]): r["speed"]["env_steps_per_s"]
             for r in cpu if r["kind"] != "parity"}
    projected = {(r["task"], r["setting"], r["batch"]): r for r in plan if r.get("compiled")}
    fmt = lambda x, spec: format(x, spec) if x is not None else "-"
    header = ["task", "setting", "obs max|err|", "obs rel", "reward rel", "term"]
    header += [f"cpu b{b}" for b in CPU_BATCHES]
    header += [f"h100* b{b}" for b in PLAN_BATCHES] + ["kernels/step", "syncs/step"]
    out = []
    for name in TASKS:
        for label in SETTINGS:
            p = parity.get((name, label))
            plans = [projected.get((name, label, b)) for b in PLAN_BATCHES]
            if p is None and not any(plans):
                continue
            big = plans[-1] or plans[0]
            out.append([name, label, fmt(p and p["obs_abs"], ".1e"), fmt(p and p["obs_rel"], ".1e"),
                        fmt(p and p["reward_rel"], ".1e"),
                        "-" if p is None else ("=" if p["terminated_equal"] else "DIFF")]
                       + [fmt(speed.get((name, label, b)), ",.0f") for b in CPU_BATCHES]
                       + [fmt(x and x["env_steps_per_s"], ",.0f") for x in plans]
                       + [fmt(big and big["per_vecenv_step"]["kernels"], ",.0f"),
                          fmt(big and big["per_vecenv_step"]["syncs"], ",.0f")])
    return (common.format_table(header, out, left=(0, 1)) + "\n* projection (not measured); "
            f"kernels and syncs per VecEnv step at batch {PLAN_BATCHES[-1]}")


def main(argv=None) -> None:
    argv = common.default_argv(argv)
    parser = common.argument_parser(__doc__, "benchmarks/results/mjx_options_cpu.json")
    parser.add_argument("--part", choices=PARTS)
    parser.add_argument("--table", metavar="PLAN_JSON", help="print the table of --out (cpu "
                        "part) and PLAN_JSON (h100 part) and exit")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS))
    parser.add_argument("--batches", nargs="*", type=int, default=list(CPU_BATCHES),
                        help="cpu part: VecEnv batch sizes")
    parser.add_argument("--plan-batches", nargs="*", type=int, default=list(PLAN_BATCHES))
    parser.add_argument("--device", default="h100", help="h100 part: the plan's target")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="timed span per cell")
    parser.add_argument("--thread-seconds", type=float, default=0.5, help="per cell and round")
    parser.add_argument("--rounds", type=int, default=3, help="threads part: rounds of the grid")
    parser.add_argument("--resume", action="store_true", help="keep the part's cells in --out")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.out, args.table))
        return
    if args.part is None:
        parser.error("--part is required (or --table)")
    parameters = {"part": args.part, "tasks": args.tasks, "settings": {
        k: SETTINGS[k] for k in args.settings}, "fast_preset": envs.mjx_options(
            {"preset": "fast"})}
    if args.part == "cpu":
        parameters.update(batches=args.batches, scan_length=CPU_SCAN_LENGTH,
                          min_seconds=args.min_seconds)
    elif args.part == "h100":
        parameters.update(batches=args.plan_batches, scan_length=PLAN_SCAN_LENGTH,
                          precision=PLAN_PRECISION, device=args.device)
    else:
        parameters = {"part": "threads", "tasks": list(THREAD_TASKS),
                      "num_threads": list(THREAD_COUNTS), "batches": list(THREAD_BATCHES),
                      "seconds": args.thread_seconds, "rounds": args.rounds,
                      "thread_min_batch_in_code": envs.backends.THREAD_MIN_BATCH}
    out = Output(args, argv, args.part, parameters)
    {"cpu": cpu_part, "h100": h100_part, "threads": threads_part}[args.part](args, out)
    out.write()
    print(f"# wrote {args.out} part {args.part}")


if __name__ == "__main__":
    main()
