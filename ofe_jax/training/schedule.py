"""When the host loop runs each compiled program, as pure functions of the env step: shared
by the loop itself (run.py) and the plan (ofe_jax.plan), which counts how often a whole run
executes each program without running it."""

from __future__ import annotations

import ml_collections


def crosses(previous: int, step: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (previous, step]."""
    return step // every > previous // every


def evaluates(config: ml_collections.ConfigDict, previous: int, step: int, total: int) -> bool:
    """Evaluate after the chunk (previous, step]: every eval_every steps and at the end."""
    return crosses(previous, step, config.eval_every) or step >= total


def saves(config: ml_collections.ConfigDict, previous: int, step: int, total: int) -> bool:
    """Checkpoint after the chunk (previous, step]: every checkpoint_every steps, at the end."""
    return crosses(previous, step, config.checkpoint_every) or step >= total


def chunk_ends(plan) -> list[int]:
    """The env step at the end of every chunk of a run from step 0."""
    return [plan.steps_per_chunk * (i + 1) for i in range(plan.num_chunks)]


def program_runs(config: ml_collections.ConfigDict, plan, lengths: dict) -> dict[str, int]:
    """How many times a run from step 0 to the end executes each of the Trainer's programs,
    its chunk programs called at `lengths` ({kind: iterations per call})."""
    ends, total = chunk_ends(plan), plan.total_steps
    previous = [0] + ends[:-1]
    return {"init": 1, **call_runs(plan, lengths),
            "eval_return": sum(evaluates(config, p, s, total) for p, s in zip(previous, ends)),
            "policy": sum(saves(config, p, s, total) for p, s in zip(previous, ends))}


# ----------------------------------------------------------------------------------------------
# Compiled calls: which program continues a run, and how long its calls are

def log_end(plan, step: int) -> int:
    """The env step of the log boundary that ends the interval holding `step`."""
    return (step // plan.steps_per_chunk + 1) * plan.steps_per_chunk


def chunk_kinds(plan) -> list[str]:
    """The chunk programs a run from step 0 calls: "collect" (random phase), "pretrain"
    (OFENet-only updates), "learn"."""
    iterations = plan.total_steps // plan.num_envs
    learning = iterations > plan.random_iterations
    return ([k for k, on in (("collect", plan.random_iterations > 0),
                             ("pretrain", learning and plan.pretrain_steps > 0),
                             ("learn", learning)) if on])


def allowed_lengths(plan, kind: str) -> list[int]:
    """Lengths a call of `kind` may have, longest first: divisors of plan.call_unit (so that
    calls end on the log and phase boundaries); "learn": multiples of iterations_per_group."""
    step = plan.iterations_per_group if kind == "learn" else 1
    return [n for n in range(plan.call_unit, 0, -1) if plan.call_unit % n == 0 and n % step == 0]


def next_call(plan, step: int, pretrained: int, lengths: dict) -> tuple[str, int]:
    """(kind, length) of the call after env step `step` (pretrained: OFENet-only updates done);
    lengths: the pacing's current length per kind (default: the longest allowed)."""
    if step // plan.num_envs < plan.random_iterations:
        kind = "collect"
    elif pretrained < plan.pretrain_steps:
        return "pretrain", 0
    else:
        kind = "learn"
    return kind, lengths.get(kind) or allowed_lengths(plan, kind)[0]


def call_runs(plan, lengths: dict) -> dict[str, int]:
    """Calls of each chunk program in a run from step 0 at the given lengths."""
    iterations = plan.total_steps // plan.num_envs
    random = min(plan.random_iterations, iterations)
    runs = {"collect": random // lengths["collect"] if random else 0,
            "learn": (iterations - random) // lengths["learn"] if iterations > random else 0}
    runs["pretrain"] = (plan.pretrain_steps // plan.pretrain_call
                        if runs["learn"] and plan.pretrain_steps else 0)
    return {k: v for k, v in runs.items() if v}


# Pacing estimates (before the first call of a program; its measured time then corrects them):
EFFICIENCY = 0.25  # of the peak FLOP/s that matmuls reach (the CPU's measured 25-31%:
#                    benchmarks/results/scaling_cpu.json, part updates)
CPU_EQUATION_S = 2e-6  # seconds per traced equation on XLA:CPU (an upper bound: most fuse)
SHRINK_ABOVE = 1.5  # a call measured over this many times call_seconds shortens the next


class Pacing:
    """The length of each chunk program's calls: the longest allowed (allowed_lengths) whose
    time stays under `seconds`, estimated from the traced program before its first compile
    (matmul FLOPs at EFFICIENCY of the peak, every traced equation at a launch cost, host
    callbacks at C MuJoCo's measured step time) and shortened after a call that took longer
    than SHRINK_ABOVE x seconds. A signal is then acted on within about one call."""

    def __init__(self, plan, seconds: float, agree=lambda length: length):
        """agree: makes the processes of a multi-host run use the same lengths (their min)."""
        self.plan, self.seconds, self.agree = plan, float(seconds), agree
        self.length: dict[str, int] = {}  # kind -> current length
        self.estimates: dict[str, float] = {}  # kind -> estimated seconds per iteration

    def choose(self, kind: str, length: int, traced, trainer) -> int:
        """The length to compile for `kind`, given the program traced at `length`."""
        if kind == "pretrain":
            return length
        if kind not in self.length:
            per_iteration = estimate_seconds(traced.jaxpr, trainer) / length
            self.estimates[kind] = per_iteration
            self.length[kind] = self.agree(self._fit(kind, per_iteration))
        return self.length[kind]

    def estimated_length(self, kind: str, carry, trainer) -> int:
        """The length `choose` picks for `kind` (traced, not compiled)."""
        if kind == "pretrain":
            return 0
        if kind not in self.length:
            longest = allowed_lengths(self.plan, kind)[0]
            self.choose(kind, longest, trainer.program(kind, longest).trace(carry), trainer)
        return self.length[kind]

    def observe(self, kind: str, length: int, seconds: float) -> None:
        """A call of `kind` and `length` took `seconds` (execution, not compilation)."""
        if kind == "pretrain":
            return
        shorter = self._fit(kind, seconds / length) if seconds > SHRINK_ABOVE * self.seconds \
            else length
        self.length[kind] = self.agree(min(self.length.get(kind, length), shorter))

    def _fit(self, kind: str, per_iteration: float) -> int:
        allowed = allowed_lengths(self.plan, kind)
        return next((n for n in allowed if n * per_iteration <= self.seconds), allowed[-1])


def estimate_seconds(closed_jaxpr, trainer) -> float:
    """Seconds of one call of a traced chunk program on this machine (Pacing's estimate)."""
    import jax

    from ofe_jax.aot import flops, peaks, physics, targets

    backend = trainer.env.backend
    profile = physics.profile(trainer.env, trainer.plan.members * trainer.plan.num_envs,
                              steps=10)
    cost = flops.cost(closed_jaxpr, physics.trip_rule(
        profile if backend == "mjx" else None, trainer.config.env.episode_length))
    if trainer.platform == "cpu":
        peak, per_equation = peaks.cpu_peak()["flop_per_s"], CPU_EQUATION_S
    else:
        known = peaks.gpu_peaks(jax.devices()[0].device_kind)  # None when planning on a CPU
        peak, per_equation = (known["tf32"] if known else 50e12), targets.LAUNCH_S
    host = cost["callbacks"] * trainer.plan.members * trainer.plan.num_envs * \
        profile["host_step_s"]
    return cost["matmul_flops"] / (peak * EFFICIENCY) + cost["equations"] * per_equation + host
