"""What the plan needs to know of an env's physics that the compiled program does not say,
measured with C MuJoCo on this machine in about a second: how many iterations MuJoCo's
constraint solver runs per solve (the trip count of MJX's solver `while` loop, which depends on
the states), and the host time of one env step (the cost of the "mujoco" backend's callback).

    profile = physics.profile(env, batch=8)   # {"solver_trips", "host_step_s", ...}
    trips_for = physics.trip_rule(profile, episode_length=1000)

Method: `batch` copies of the env's physics model (the backend's, with its solver options)
under uniform-random actions for `steps` env steps from the initial state with small noise;
per substep the largest `solver_niter` over the batch (a vmapped MJX loop runs until its
slowest env is done); `solver_trips` is the mean of that, at least 1. Batches above 32 are
measured at 32 (the maximum over more envs can only be larger: an underestimate there).
"""

from __future__ import annotations

import time

import mujoco
import numpy as np

MAX_BATCH = 32
SOLVER_LOOP = "solve/while"  # MJX's constraint solver (mujoco/mjx/_src/solver.py: solve)
EVAL_LOOP = "eval_episode"  # the evaluation's episode loop (training/loop.py)


def profile(env, batch: int, steps: int = 40, seed: int = 0) -> dict:
    model = env.physics_model
    batch = max(1, min(int(batch), MAX_BATCH))
    rng = np.random.default_rng(seed)
    datas = [mujoco.MjData(model) for _ in range(batch)]
    for data in datas:
        data.qpos[:] = model.qpos0 + rng.uniform(-0.005, 0.005, model.nq)
        mujoco.mj_forward(model, data)
    low, high = env.action_low, env.action_high
    worst, tick = [], time.perf_counter()
    for _ in range(steps):
        for data in datas:
            data.ctrl[:] = rng.uniform(low, high)
        for _ in range(env.task.frame_skip):
            iterations = 0
            for data in datas:
                mujoco.mj_step(model, data)
                iterations = max(iterations, int(data.solver_niter[0]))
            worst.append(iterations)
    seconds = time.perf_counter() - tick
    return {"solver_trips": max(1.0, float(np.mean(worst))), "solver_trips_max": max(worst),
            "solver_iterations_limit": int(model.opt.iterations),
            "host_step_s": seconds / (steps * batch), "batch": batch, "steps": steps,
            "method": "C MuJoCo, uniform-random actions from the initial state; mean over "
                      "substeps of the largest solver_niter in the batch (aot/physics.py)"}


def trip_rule(physics: dict | None, episode_length: int):
    """trips_for(op_name) for loops without a known trip count: MJX's solver loop -> the
    measured solver_trips; the evaluation's episode loop -> episode_length (an upper bound:
    episodes that terminate early end it sooner); others -> None (counted once)."""
    def trips_for(name: str) -> float | None:
        if physics is not None and name.endswith(SOLVER_LOOP):
            return physics["solver_trips"]
        if EVAL_LOOP in name and name.endswith("while"):
            return float(episode_length)
        return None

    return trips_for
