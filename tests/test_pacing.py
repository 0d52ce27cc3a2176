"""How long the training loop's compiled calls are (training/schedule.py Pacing): shortened
after a call that took too long, never from compile time."""

import time
import types

import jax
import pytest

from ofe_jax.config import quickstart
from ofe_jax.training import Trainer, schedule

# allowed lengths [8, 4, 2, 1]: divisors of call_unit 8 (learn: multiples of the group of 1)
PLAN = types.SimpleNamespace(call_unit=8, iterations_per_group=1)


def test_allowed_lengths_divide_the_call_unit_longest_first():
    assert schedule.allowed_lengths(PLAN, "collect") == [8, 4, 2, 1]
    grouped = types.SimpleNamespace(call_unit=12, iterations_per_group=3)
    assert schedule.allowed_lengths(grouped, "learn") == [12, 6, 3]
    assert schedule.allowed_lengths(grouped, "collect") == [12, 6, 4, 3, 2, 1]


@pytest.mark.parametrize("seconds,expected", [
    (1.4, 8),  # under SHRINK_ABOVE x call_seconds (1.5 x 1 s): kept
    (1.6, 4),  # 0.2 s per iteration: 4 fit in 1 s, 8 do not
    (4.0, 2),  # 0.5 s per iteration: 2
    (80.0, 1),  # 10 s per iteration: none fits, the shortest
])
def test_a_slow_call_shortens_the_next_to_what_fits(seconds, expected):
    pacing = schedule.Pacing(PLAN, seconds=1.0)
    pacing.length["learn"] = 8
    pacing.observe("learn", 8, seconds)
    assert pacing.length["learn"] == expected


def test_calls_are_never_lengthened_and_pretraining_is_not_paced():
    pacing = schedule.Pacing(PLAN, seconds=1.0)
    pacing.length["collect"] = 2
    pacing.observe("collect", 2, 0.001)  # fast: would fit 8, stays 2
    assert pacing.length["collect"] == 2
    pacing.observe("pretrain", 0, 100.0)
    assert "pretrain" not in pacing.length


def test_the_discarded_trace_counts_as_compile_time_not_as_a_slow_call(monkeypatch):
    """The first call of a kind traces the longest length, the estimate picks a shorter one, and
    that one is traced and compiled. Each trace is made 1 s slower here: both seconds must be in
    compile_s, so the call's execution (wall - compile) stays short and the pacing keeps the
    chosen length. (Before the fix, the discarded trace counted as execution: on a CPU an MJX
    program's was 22-26 s, and every later call was cut to 1 iteration.)"""
    c = quickstart.get_config()
    c.total_steps, c.log_every, c.random_steps = 200, 100, 100
    c.call_seconds = 1e-3  # the estimate of any length is longer: it picks the shortest
    trainer = Trainer(c)
    program = trainer.program

    def slow_program(kind, length=0):
        jitted = program(kind, length)
        return types.SimpleNamespace(trace=lambda *args: (time.sleep(1.0),
                                                          jitted.trace(*args))[1])

    monkeypatch.setattr(trainer, "program", slow_program)
    carry = jax.block_until_ready(trainer.init(trainer.seed_keys()))
    requested = trainer.next_call(carry)
    assert requested == ("collect", 100)  # the longest allowed: nothing chosen yet
    tick = time.perf_counter()
    carry = jax.block_until_ready(trainer.call(carry, requested))
    wall = time.perf_counter() - tick
    assert trainer.last_call == ("collect", 1) and int(carry.step) == 1
    assert trainer.compile_s >= 2.0  # both traces
    assert wall - trainer.compile_s < 0.9  # what the pacing observes: the call itself
