"""The plan's time model: a projection (not measured) of a run's wall time from what the
compiled programs do (aot/hlo.py, aot/flops.py) and a target's constants (aot/targets.py).

One execution of a program takes

    max(flops / peak, bytes / bandwidth)          the roofline: the matmuls at the peak of
                                                  their precision, or the bytes its kernels
                                                  move at the memory bandwidth, whichever is
                                                  longer (the two overlap at best)
    + kernels x launch_s                          launching every kernel from the host
    + syncs x sync_s                              every host synchronisation (while and
                                                  conditional predicates, host callbacks)
    + callbacks x envs x host_step_s              host work of C MuJoCo callbacks (the
                                                  "mujoco" backend), measured (aot/physics.py)

and a run is the sum over its programs of (executions x time) plus its checkpoints' transfers
to the host (carry bytes / host bandwidth each). Not in it: compilation on the device, Python
and logging between chunks, and the efficiency of kernels below their peak (the roofline is a
lower bound; small matmuls reach a fraction of it), so the projection is a lower bound on the
time for the counted work. Its constants are to be fitted from a GPU run (the GPU issue).
"""

from __future__ import annotations

MODEL = ("per program execution: max(matmul_flops / peak, bytes / bandwidth) + kernels x "
         "launch_s + syncs x sync_s + callbacks x envs x host_step_s; a run: the sum over its "
         "programs of executions x that, plus checkpoints x carry bytes / host bandwidth. "
         "Projection (not measured); a lower bound: kernels are assumed to reach their peak.")


def program_seconds(counts: dict, flops: float, target, precision: str,
                    host_step_s: float = 0.0, envs: int = 0) -> dict:
    """The model's terms for one execution of a program (seconds each, and their sum)."""
    peak = target.peak_for(precision)
    terms = {"compute_s": flops / peak if peak else 0.0,
             "memory_s": counts["bytes"] / target.bandwidth,
             "launch_s": counts["kernels"] * target.launch_s,
             "sync_s": counts["syncs"] * target.sync_s,
             "host_s": counts["callbacks"] * envs * host_step_s}
    terms["total_s"] = (max(terms["compute_s"], terms["memory_s"]) + terms["launch_s"]
                        + terms["sync_s"] + terms["host_s"])
    return terms


def run_seconds(programs: dict, runs: dict, carry_bytes: int, target) -> dict:
    """{"total_s", "by_program": {name: seconds}, "checkpoints_s"} of a whole run; programs:
    {name: {"seconds": {"total_s": ...}}} (those that compiled), runs: {name: executions}."""
    by_program = {name: runs.get(name, 0) * p["seconds"]["total_s"]
                  for name, p in programs.items() if "seconds" in p}
    checkpoints = runs.get("policy", 0) * carry_bytes / target.host_bandwidth
    return {"total_s": sum(by_program.values()) + checkpoints, "by_program": by_program,
            "checkpoints_s": checkpoints}
