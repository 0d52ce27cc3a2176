"""Several hosts, for real, on one machine: `python -m ofe_jax.main` as 2 processes on
127.0.0.1 (jax.distributed, CPU collectives through gloo, 2 forced CPU devices each), checked
against the same run in one process with 4 devices.

    python -m benchmarks.multihost --out benchmarks/results/multihost_cpu.json

Checks (one line each; the JSON has the figures):
  a  seeds axis: 4 seeds, seeds_devices=4 over both processes, 400 steps (200 random, 200
     learning): the random-phase metrics.csv rows and replay contents equal the 1-process run's
     bit for bit, and it trains to the end with finite losses;
  b  data axis: 1 seed, data_devices=4 over both processes (num_envs=4) trains to the end;
  c  checkpoints are written once (one directory per step, whole; the carry restores in one
     process, the policy artifact loads with `load_policies` on one device) and a
     second launch resumes from the last one ("resumed from the checkpoint at step 400") and
     finishes at step 600;
  d  logs come from process 0 only: metrics.csv has one row per seed and chunk, process 1
     prints no progress bar and no message;
  e  a process SIGKILLed mid-run (process 1 and process 0 while learning, process 1 while a
     checkpoint is written and during start-up, before any collective): the other exits with
     one `error:` line and exit code 1; the time from the kill to its exit is measured
     (parallel.heartbeat_timeout_s is --heartbeat here: 10 s by default, ofe_jax's is 100 s);
  f  SIGTERM to process 1 alone stops both processes after the same chunk, with a checkpoint
     there, exit code 143.

Each launch takes well under a minute (quick-start InvertedPendulum, 16-unit networks). This
process restores the checkpoints itself, with 4 forced CPU devices.
"""

from __future__ import annotations

import csv
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"  # before jax (common)

from benchmarks import common  # noqa: E402

ARGS = ["--config=configs/quickstart.py", "--config.total_steps=400", "--config.log_every=200",
        "--config.random_steps=200", "--config.eval_every=200", "--config.checkpoint_every=200",
        "--config.eval_episodes=2", "--config.replay.capacity=2000",
        "--config.agent.network.units=16", "--config.agent.batch_size=32"]
SEEDS = ["--config.seeds=4", "--config.parallel.seeds_devices=4"]
DATA = ["--config.env.num_envs=4", "--config.parallel.data_devices=4"]
LONG = ["--config.total_steps=40000", "--config.checkpoint_every=1000"]
TIMING = ("steps_per_s", "wall_s")
LAUNCH_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Launch:
    """`python -m ofe_jax.main` as `processes` processes (2 forced CPU devices each) on one
    workdir; each process's stdout and stderr go to files beside the workdir."""

    def __init__(self, workdir: str, extra: list[str], processes: int = 2):
        self.workdir, self.start = workdir, time.time()
        port, self.procs, self.logs = free_port(), [], []
        devices = 2 if processes > 1 else 4
        env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
               "PYTHONPATH": os.pathsep.join(
                   p for p in (common.REPO_ROOT, os.environ.get("PYTHONPATH")) if p)}
        for k in range(processes):
            flags = [] if processes == 1 else [
                "--config.parallel.num_processes=2", f"--config.parallel.process_id={k}",
                f"--config.parallel.coordinator_address=127.0.0.1:{port}"]
            out, err = (open(f"{workdir}.{k}.{name}", "w") for name in ("out", "err"))
            self.logs.append((out.name, err.name))
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "ofe_jax.main", f"--workdir={workdir}", *ARGS, *extra,
                 *flags], cwd=common.REPO_ROOT, env=env, stdout=out, stderr=err))
            out.close()
            err.close()

    def wait(self, timeout: float = LAUNCH_TIMEOUT_S) -> list[int]:
        codes = [p.wait(timeout=max(1.0, self.start + timeout - time.time()))
                 for p in self.procs]
        self.wall_s = round(time.time() - self.start, 1)
        return codes

    def stderr(self, k: int) -> str:
        with open(self.logs[k][1]) as f:
            return f.read()

    def stdout(self, k: int) -> str:
        with open(self.logs[k][0]) as f:
            return f.read()

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def rows(workdir: str) -> list[dict]:
    path = os.path.join(workdir, "metrics.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def lines(text: str) -> list[str]:
    """Lines of a process's output, progress-bar redraws (\\r) split apart, blanks dropped."""
    return [line for line in text.replace("\r", "\n").splitlines() if line.strip()]


def error_lines(text: str) -> list[str]:
    return [line for line in lines(text) if line.startswith("error:")]


def progress(text: str) -> bool:
    return "step/s" in text or "%|" in text


def trainer_of(workdir: str):
    import json

    import ml_collections

    from ofe_jax.training import Trainer

    with open(os.path.join(workdir, "config.json")) as f:
        config = ml_collections.ConfigDict(json.load(f))
    config.parallel.num_processes, config.parallel.process_id = 1, 0  # restored here, alone
    return Trainer(config)


def restore(workdir: str, step: int | None = None):
    """The carry of checkpoint `step` (default the latest) of a run, restored in this process."""
    from ofe_jax.checkpoint import Checkpointer

    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"), create=False)
    try:
        return checkpoints.restore_carry(trainer_of(workdir).abstract_carry(), step)
    finally:
        checkpoints.close()


def report(results: dict, name: str, ok: bool, detail: str) -> None:
    results["checks"][name] = {"passed": bool(ok), "detail": detail}
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)


def check_seeds(root: str, results: dict) -> str:
    """a and d (and the first half of c): returns the 2-process workdir."""
    import jax
    import numpy as np

    one = Launch(os.path.join(root, "seeds_1process"), SEEDS, processes=1)
    one_codes = one.wait()
    two = Launch(os.path.join(root, "seeds_2processes"), SEEDS)
    two_codes = two.wait()
    results["launches"].update(seeds_1process_s=one.wall_s, seeds_2processes_s=two.wall_s)
    a, b = rows(one.workdir), rows(two.workdir)
    random_rows = [r for r in a if int(r["step"]) <= 200]
    carry_1, carry_2 = restore(one.workdir), restore(two.workdir)
    replay = [(np.asarray(x), np.asarray(y)) for x, y in zip(
        jax.tree.leaves(carry_1.buffer.data), jax.tree.leaves(carry_2.buffer.data))]
    random_replay = all(np.array_equal(x[:, :200], y[:, :200]) for x, y in replay)
    whole_carry = all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(
        jax.tree.leaves(carry_1), jax.tree.leaves(carry_2)))
    last = [r for r in b if int(r["step"]) == 400]
    finite = len(last) == 4 and all(np.isfinite(float(r["critic_loss"])) for r in last)
    results["seeds"] = {"exit_codes_1process": one_codes, "exit_codes_2processes": two_codes,
                        "random_phase_rows_equal": random_rows == b[:len(random_rows)],
                        "random_phase_replay_equal": random_replay,
                        "all_rows_equal": a == b, "final_carry_equal": whole_carry,
                        "final_critic_loss": [float(r["critic_loss"]) for r in last]}
    report(results, "a_seeds_axis_equals_one_process",
           one_codes == [0] and two_codes == [0, 0] and len(random_rows) == 4
           and random_rows == b[:4] and random_replay and finite,
           f"random phase (steps 0-200, 4 seeds): metrics rows equal {random_rows == b[:4]}, "
           f"replay equal {random_replay}; finite losses at step 400 {finite}; after learning "
           f"too: rows equal {a == b}, whole final carry equal {whole_carry}; "
           f"{one.wall_s} s (1 process) / {two.wall_s} s (2 processes)")
    out_1, err_1 = two.stdout(1), two.stderr(1)
    steps = sorted({(int(r["step"]), int(r["seed"])) for r in b})
    no_duplicates = len(steps) == len(b) == 8
    quiet = not progress(err_1) and not lines(err_1) and not any(
        line for line in lines(out_1) if not line.startswith("[Gloo]"))
    results["logs"] = {"metrics_rows": len(b), "process_1_stderr_lines": len(lines(err_1)),
                       "process_1_stdout_non_gloo_lines": sum(
                           not line.startswith("[Gloo]") for line in lines(out_1)),
                       "process_0_progress_bar": progress(two.stderr(0))}
    report(results, "d_logs_from_process_0_only",
           no_duplicates and quiet and progress(two.stderr(0)),
           f"metrics.csv {len(b)} rows (4 seeds x 2 chunks, none twice) {no_duplicates}; "
           f"process 1 printed nothing but gloo's connection lines {quiet}; process 0 shows "
           f"the progress bar {progress(two.stderr(0))}")
    return two.workdir


def check_checkpoints(workdir: str, results: dict) -> None:
    """c: one whole checkpoint per step, restorable; a second launch resumes and finishes."""
    from ofe_jax.checkpoint import Checkpointer

    directory = os.path.join(workdir, "checkpoints")
    entries = sorted(os.listdir(directory))
    checkpoints = Checkpointer(directory, create=False)
    steps = checkpoints.all_steps()
    checkpoints.close()
    whole = entries == ["200", "400"] and steps == [200, 400] and all(
        os.path.exists(os.path.join(directory, s, "carry", "_METADATA")) for s in entries)
    for step in steps:
        restore(workdir, step)  # raises if unreadable
    from ofe_jax.policy import load_policies

    policies = sorted(load_policies(workdir))  # the policy artifact, read on one device
    resumed = Launch(workdir, SEEDS + ["--config.total_steps=600"])
    codes = resumed.wait()
    results["launches"]["resume_2processes_s"] = resumed.wall_s
    said = "resumed from the checkpoint at step 400" in resumed.stderr(0)
    final = [int(r["step"]) for r in rows(workdir)]
    after = sorted(os.listdir(directory))
    results["checkpoints"] = {"entries_after_first_launch": entries, "steps": steps,
                              "exit_codes_resume": codes, "resume_message": said,
                              "entries_after_resume": after, "metrics_steps": final,
                              "policy_artifact_seeds": policies}
    report(results, "c_checkpoints_once_and_resume",
           whole and codes == [0, 0] and said and final == [200] * 4 + [400] * 4 + [600] * 4
           and after == ["200", "400", "600"] and policies == [0, 1, 2, 3],
           f"checkpoint directories {entries} (whole; carry restorable here, policy artifact "
           f"of seeds {policies} loads on one device) {whole}; the second "
           f"launch said 'resumed from the checkpoint at step 400' {said}, exit codes {codes}, "
           f"checkpoints then {after}; {resumed.wall_s} s")


def check_data(root: str, results: dict) -> None:
    """b: one run whose data axis spans both processes."""
    import numpy as np

    run = Launch(os.path.join(root, "data_2processes"), DATA)
    codes = run.wait()
    results["launches"]["data_2processes_s"] = run.wall_s
    got = rows(run.workdir)
    last = [r for r in got if int(r["step"]) == 400]
    finite = len(last) == 1 and np.isfinite(float(last[0]["critic_loss"]))
    results["data"] = {"exit_codes": codes, "rows": len(got),
                       "final_critic_loss": [float(r["critic_loss"]) for r in last]}
    report(results, "b_data_axis_across_processes", codes == [0, 0] and finite,
           f"1 seed, num_envs=4 over data_devices=4 (2 per process): exit codes {codes}, "
           f"finite critic loss at step 400 {finite}; {run.wall_s} s")


def saving(workdir: str) -> bool:
    return bool(glob.glob(os.path.join(workdir, "checkpoints", "*.orbax-checkpoint-tmp*")))


def kill_one(root: str, victim: int, phase: str, heartbeat_s: int) -> dict:
    """Kills process `victim` of a long run in `phase` ("startup": once process 0 has set up
    the workdir, before the first chunk ends; "learning": mid-chunk, once it learns; "saving":
    while a checkpoint is being written); how the other one ends."""
    run = Launch(os.path.join(root, f"kill_{victim}_{phase}"),
                 SEEDS + LONG + [f"--config.parallel.heartbeat_timeout_s={heartbeat_s}"])
    survivor = 1 - victim
    try:
        deadline = time.time() + LAUNCH_TIMEOUT_S
        while time.time() < deadline and all(p.poll() is None for p in run.procs):
            if phase == "startup" and os.path.exists(os.path.join(run.workdir, "config.json")):
                break
            logged = len(rows(run.workdir))
            if logged >= 8 and (phase == "learning" or saving(run.workdir) or logged >= 100):
                break  # learning (the first learning chunk is logged); saving (or 5 missed)
            time.sleep(0.01)
        if phase == "learning":
            time.sleep(0.3)  # into the next chunk
        seen = {"rows": len(rows(run.workdir)), "saving": saving(run.workdir)}
        os.kill(run.procs[victim].pid, signal.SIGKILL)
        killed = time.time()
        code = run.procs[survivor].wait(timeout=10 * heartbeat_s + 60)
        exit_s = round(time.time() - killed, 2)
    finally:
        run.kill()
    err = run.stderr(survivor)
    errors = error_lines(err)
    rest = [line for line in lines(err) if not progress(line) and not line.startswith("error:")]
    return {"victim": victim, "phase": phase, "seen_at_kill": seen,
            "survivor_exit_code": code, "exit_s": exit_s, "error_lines": errors,
            "other_stderr_lines": rest[-5:], "one_line": len(errors) == 1 and not rest
            and code == 1}


def check_kills(root: str, results: dict, heartbeat_s: int) -> None:
    kills = [kill_one(root, victim, phase, heartbeat_s)
             for victim, phase in ((1, "learning"), (0, "learning"), (1, "saving"),
                                   (1, "startup"))]
    results["kills"] = kills
    bound = heartbeat_s + 5
    text = "; ".join(f"process {k['victim']} killed ({k['phase']}): process {1 - k['victim']} "
                     f"exited {k['exit_s']} s later, code {k['survivor_exit_code']}, one error "
                     f"line {k['one_line']}" for k in kills)
    report(results, "e_killed_peer_ends_the_other",
           all(k["one_line"] and k["exit_s"] <= bound for k in kills),
           f"{text} (bound: heartbeat_timeout_s={heartbeat_s} + 5 s)")
    for k in kills:
        print(f"     process {1 - k['victim']} ({k['phase']}): {k['error_lines'][:1]}",
              flush=True)


def check_signal(root: str, results: dict) -> None:
    """f: SIGTERM to process 1 alone (a scheduler may signal one host): both processes stop
    after the same chunk with one checkpoint, exit code 143."""
    run = Launch(os.path.join(root, "sigterm_1"), SEEDS + LONG)
    try:
        deadline = time.time() + LAUNCH_TIMEOUT_S
        while (time.time() < deadline and len(rows(run.workdir)) < 8
               and all(p.poll() is None for p in run.procs)):
            time.sleep(0.05)
        os.kill(run.procs[1].pid, signal.SIGTERM)
        sent = time.time()
        codes = run.wait()
        exit_s = round(time.time() - sent, 2)
    finally:
        run.kill()
    said = [line for line in lines(run.stderr(0)) if line.startswith("interrupted:")]
    steps = sorted(int(s) for s in os.listdir(os.path.join(run.workdir, "checkpoints"))
                   if s.isdigit())
    last = max((int(r["step"]) for r in rows(run.workdir)), default=None)
    results["sigterm"] = {"exit_codes": codes, "exit_s": exit_s, "process_0_said": said,
                          "checkpoint_steps": steps, "last_logged_step": last}
    report(results, "f_signal_to_one_process_stops_both",
           codes == [143, 143] and len(said) == 1 and steps[-1:] == [last],
           f"SIGTERM to process 1: exit codes {codes} {exit_s} s later; process 0 said "
           f"{said[:1]}; checkpoints {steps}, last logged step {last}")


def main(argv=None) -> dict:
    argv = common.default_argv(argv)
    parser = common.argument_parser(__doc__, "benchmarks/results/multihost_cpu.json")
    parser.add_argument("--heartbeat", type=int, default=10,
                        help="parallel.heartbeat_timeout_s of the kill runs (default 10; "
                             "ofe_jax's default is 100)")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    args = parser.parse_args(argv)
    from absl import logging

    logging.set_verbosity(logging.ERROR)  # orbax's warnings on opening checkpoints read-only
    run = common.Run("multihost", argv, {"run_args": ARGS, "seeds_args": SEEDS,
                                         "data_args": DATA, "kill_run_args": LONG,
                                         "heartbeat_timeout_s": args.heartbeat})
    print(run.banner("2 processes x 2 CPU devices on 127.0.0.1 against 1 process x 4"),
          flush=True)
    root = tempfile.mkdtemp(prefix="ofe_multihost_")
    results = {"checks": {}, "launches": {}}
    try:
        workdir = check_seeds(root, results)
        check_checkpoints(workdir, results)
        check_data(root, results)
        check_signal(root, results)
        check_kills(root, results, args.heartbeat)
    finally:
        if args.keep:
            print(f"run directories kept in {root}", flush=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
    results["passed"] = all(c["passed"] for c in results["checks"].values())
    method = ("Each launch is `python -m ofe_jax.main` with the run's flags, as 2 processes "
              "(--config.parallel.num_processes=2, process_id 0/1, coordinator 127.0.0.1:<a "
              "free port>, XLA_FLAGS=--xla_force_host_platform_device_count=2) or as 1 process "
              "with 4 forced devices; launch times are wall times of the whole command "
              "(start-up, compilation, training, checkpoints), both processes sharing the "
              "machine's cores. Checkpoints are restored in this process (4 forced devices). "
              "Kill times run from the SIGKILL to the survivor's exit.")
    record = run.finish(results, method=method, note=args.note)
    common.write_json(args.out, record)
    print(f"passed: {results['passed']}; wrote {args.out}", flush=True)
    return record


if __name__ == "__main__":
    main()
