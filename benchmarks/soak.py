"""Soak test of exact resume under hard kills (not in CI): a short run is killed with SIGKILL at
random moments -- while it compiles, mid-chunk, while a checkpoint is being written -- and
restarted each time with the same command; after every kill each checkpoint on disk must
restore, and at the end the run's final carry (parameters, optimiser states, replay, envs,
keys) and its metrics must equal those of the same run done without interruption, bit for bit.

    python -m benchmarks.soak --kills 10 --out benchmarks/results/soak_cpu.json
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from benchmarks import common

# A short run that exercises every phase: random actions, OFENet pretraining, updates, evaluation
# and a checkpoint every chunk (quick start, small networks, OFENet on).
ARGS = ["--config=configs/quickstart.py", "--config.total_steps=4000", "--config.log_every=200",
        "--config.eval_every=400", "--config.checkpoint_every=200", "--config.random_steps=400",
        "--config.agent.network.units=32", "--config.agent.ofenet.enabled=True",
        "--config.agent.ofenet.total_units=16", "--config.agent.ofenet.layers=2",
        "--config.ofenet_pretrain_steps=50", "--config.replay.capacity=20000",
        "--config.eval_episodes=2", "--config.keep_checkpoints=2"]
TIMING_COLUMNS = ("steps_per_s", "wall_s")
PHASES = ("compile", "mid_chunk", "saving")


def launch(workdir: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ofe_jax.main", f"--workdir={workdir}", *ARGS],
                            cwd=common.REPO_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def rows(workdir: str) -> int:
    path = os.path.join(workdir, "metrics.csv")
    return max(0, len(open(path).read().splitlines()) - 1) if os.path.exists(path) else 0


def saving(workdir: str) -> bool:
    return bool(glob.glob(os.path.join(workdir, "checkpoints", "*.orbax-checkpoint-tmp*")))


def kill_at(process, workdir: str, phase: str, rng: random.Random) -> dict:
    """Waits for `phase` (or the end of the run) and sends SIGKILL; what was seen."""
    start, seen_rows = time.time(), rows(workdir)
    target = {"compile": None, "mid_chunk": seen_rows + 1 + rng.randrange(3),
              "saving": seen_rows + 1}[phase]
    delay = rng.uniform(0.5, 6.0) if phase == "compile" else rng.uniform(0.0, 0.5)
    while process.poll() is None:
        if phase == "compile" and time.time() - start >= delay:
            break
        if phase == "mid_chunk" and rows(workdir) >= target:
            time.sleep(delay)
            break
        if phase == "saving" and rows(workdir) >= target and saving(workdir):
            break
        time.sleep(0.01)
    finished = process.poll() is not None
    during_save = saving(workdir)  # a save in progress when the kill is sent (leftovers of
    if not finished:               # an earlier kill are removed when a run starts)
        process.send_signal(signal.SIGKILL)
    process.wait()
    return {"phase": phase, "after_s": round(time.time() - start, 2), "rows": rows(workdir),
            "during_save": during_save and rows(workdir) > seen_rows,
            "finished_before_kill": finished}


def restore_all(trainer, workdir: str) -> dict:
    """Restores every checkpoint on disk (carry and policy meta): {"steps", "unreadable"}."""
    from ofe_jax.checkpoint import Checkpointer
    from ofe_jax.errors import CheckpointError

    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"), create=False)
    out = {"steps": checkpoints.all_steps(), "unreadable": []}
    try:
        for step in out["steps"]:
            try:
                checkpoints.restore_carry(trainer.abstract_carry(), step)
                checkpoints.restore_policy_meta(step)
            except CheckpointError as e:
                out["unreadable"].append({"step": step, "error": str(e)})
        return out
    finally:
        checkpoints.close()


def final_carry(trainer, workdir: str):
    from ofe_jax.checkpoint import Checkpointer

    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"), create=False)
    try:
        return checkpoints.latest_step(), checkpoints.restore_carry(trainer.abstract_carry())
    finally:
        checkpoints.close()


def metrics_without_timing(workdir: str) -> list[dict]:
    with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS}
                for row in csv.DictReader(f)]


def trainer_of(workdir: str):
    import ml_collections

    from ofe_jax.training import Trainer

    with open(os.path.join(workdir, "config.json")) as f:
        return Trainer(ml_collections.ConfigDict(json.load(f)))


def main(argv=None) -> dict:
    argv = common.default_argv(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill schedule")
    parser.add_argument("--out", default="benchmarks/results/soak_cpu.json")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    run = common.Run("soak", argv, {**vars(args), "run_args": ARGS})
    print(run.banner(f"{args.kills} SIGKILLs, then the same run uninterrupted"), flush=True)
    root = tempfile.mkdtemp(prefix="ofe_soak_")
    soaked, reference = os.path.join(root, "soaked"), os.path.join(root, "reference")
    rng = random.Random(args.seed)
    kills, trainer = [], None
    try:
        for i in range(args.kills):
            phase = PHASES[i % len(PHASES)] if i < len(PHASES) else rng.choice(PHASES)
            seen = kill_at(launch(soaked), soaked, phase, rng)
            if trainer is None and os.path.exists(os.path.join(soaked, "config.json")):
                trainer = trainer_of(soaked)
            seen["checkpoints"] = restore_all(trainer, soaked) if trainer else {
                "steps": [], "unreadable": []}
            kills.append(seen)
            print(f"kill {i + 1}: {seen}", flush=True)
        finish = launch(soaked)
        _, stderr = finish.communicate()
        assert finish.returncode == 0, stderr[-3000:]
        done = subprocess.run([sys.executable, "-m", "ofe_jax.main", f"--workdir={reference}",
                               *ARGS], cwd=common.REPO_ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        trainer = trainer or trainer_of(soaked)
        (step_a, carry_a), (step_b, carry_b) = (final_carry(trainer, soaked),
                                               final_carry(trainer, reference))
        import jax
        import numpy as np

        leaves = list(zip(jax.tree.leaves(carry_a), jax.tree.leaves(carry_b)))
        differing = sum(not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in leaves)
        same_metrics = metrics_without_timing(soaked) == metrics_without_timing(reference)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    results = {"kills": kills, "final_step": {"soaked": step_a, "reference": step_b},
               "carry_leaves": len(leaves), "carry_leaves_differing": differing,
               "metrics_identical_but_timing": same_metrics,
               "every_checkpoint_restorable_after_every_kill": all(
                   not k["checkpoints"]["unreadable"] for k in kills),
               "kills_during_a_save": sum(k["during_save"] for k in kills),
               "identical": differing == 0 and same_metrics and step_a == step_b}
    results["passed"] = (results["identical"]
                         and results["every_checkpoint_restorable_after_every_kill"])
    method = ("SIGKILL at a phase chosen in turn (compile, mid-chunk, during an orbax save: a "
              "temporary checkpoint directory exists), then at random phases; after each kill "
              "every checkpoint on disk is restored (carry and policy meta); then the run is "
              "finished with the same command and compared with an uninterrupted run: every "
              "leaf of the final carry bitwise, metrics.csv except its timing columns.")
    record = run.finish(results, method=method, note=args.note)
    common.write_json(args.out, record)
    print(f"identical: {results['identical']} ({differing} of {len(leaves)} carry leaves "
          f"differ; metrics identical: {same_metrics}); kills during a save: "
          f"{results['kills_during_a_save']}", flush=True)
    return record


if __name__ == "__main__":
    main()
