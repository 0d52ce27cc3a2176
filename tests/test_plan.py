"""ofe_jax.plan: compiling a run's programs for a target, counting what they do, projecting time.

The CPU target runs everywhere; the H100 compile runs where JAX's CUDA plugin is installed
(`pip install -e '.[plan]'`) and is skipped otherwise.
"""

import importlib.util
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ofe_jax import agents
from ofe_jax.aot import flops as flops_lib, hlo, planner, targets
from ofe_jax.config import quickstart
from ofe_jax.training.trainer import Trainer
from tests._cli import cli_env

HAS_PLUGIN = targets.cuda_plugin_version() is not None


def run_plan(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "ofe_jax.plan", *args], capture_output=True,
                          text=True, timeout=timeout, env=env or cli_env())


def short_quickstart(**overrides):
    c = quickstart.get_config()
    c.total_steps, c.log_every, c.eval_every, c.checkpoint_every = 3000, 500, 1000, 2000
    for k, v in overrides.items():
        section, _, name = k.rpartition(".")
        (c[section] if section else c)[name] = v
    return c


@pytest.fixture(scope="module")
def cli_plan(tmp_path_factory):
    """`python -m ofe_jax.plan --device=cpu` on the quick-start config (shortened run)."""
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    result = run_plan("--config=configs/quickstart.py", "--device=cpu", f"--out={out}",
                      "--config.total_steps=3000", "--config.log_every=500",
                      "--config.eval_every=1000", "--config.checkpoint_every=2000")
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads(out.read_text())


def test_cpu_plan_lists_every_program_with_the_direct_compiles_memory(cli_plan):
    stdout, report = cli_plan
    programs = report["programs"]
    assert set(programs) == {"init", "collect", "learn", "eval_return", "policy"}
    for name in programs:
        assert name in stdout
    assert "projection (not measured)" in stdout and report["all_compiled"]
    # The same functions compiled directly (not through the plan) have the same memory.
    trainer = Trainer(planner.target_config(short_quickstart(), targets.load("cpu")))
    carry = trainer.abstract_carry()
    direct = {kind: trainer.program(kind, programs[kind]["iterations_per_call"]).lower(
        carry).compile() for kind in ("collect", "learn")}
    direct.update({"eval_return": trainer.eval_return.lower(carry).compile(),
              "policy": trainer.policy.lower(carry).compile(),
              "init": trainer._init.for_platform("cpu").lower(
                  trainer.seed_keys(), trainer.member_hparams()).compile()})
    for name, compiled in direct.items():
        m = compiled.memory_analysis()
        planned = report["programs"][name]["memory"]
        assert planned["argument"] == m.argument_size_in_bytes, name
        assert planned["output"] == m.output_size_in_bytes, name
        assert planned["alias"] == m.alias_size_in_bytes, name
        assert planned["temp"] == m.temp_size_in_bytes, name
    # A 3000-step run, 1000 random steps, logged every 500: calls of a divisor of 500
    # iterations; evaluations at 1k/2k/3k, saves at 2k/3k.
    collect, learn = programs["collect"], programs["learn"]
    assert 500 % collect["iterations_per_call"] == 0 and 500 % learn["iterations_per_call"] == 0
    assert collect["runs"] * collect["iterations_per_call"] == 1000
    assert learn["runs"] * learn["iterations_per_call"] == 2000
    assert {k: programs[k]["runs"] for k in ("init", "eval_return", "policy")} == {
        "init": 1, "eval_return": 3, "policy": 2}
    assert report["memory"]["peak_bytes"] == max(
        p["memory"]["total"] for p in report["programs"].values())


def test_matmul_flops_of_one_sac_update_by_hand():
    o, a, h, b, c = 3, 2, 4, 5, 2  # obs, action, units (2 layers), batch, critics
    config = agents.default_config("sac")
    config.network.units, config.batch_size, config.num_critics = h, b, c
    agent = agents.make(config, o, a)
    state = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    batch = agents.Transition(jnp.zeros((b, o)), jnp.zeros((b, a)), jnp.zeros(b), jnp.ones(b),
                              jnp.zeros((b, o)))
    counted = flops_lib.matmul_flops(jax.make_jaxpr(agent.update)(state, batch))
    actor = o * h + h * h + 2 * h * a  # multiply-adds per sample: torso, mean and log_std heads
    critic = (o + a) * h + h * h + h  # per critic: torso on concat(obs, action), Q head
    target = actor + c * critic  # pi(s') and Q'(s', a')
    # critic step: forward, weight gradients, input gradients of all but the first layer
    critic_step = c * (critic + critic + h * h + h)
    # actor step: pi(s), Q(s, pi(s)) forward and its input gradients (first layer included,
    # towards the action), actor weight gradients, actor input gradients but the first layer's
    actor_step = actor + c * critic + c * critic + actor + (h * h + 2 * h * a)
    assert counted == 2 * b * (target + critic_step + actor_step)


def test_flops_count_scan_length_and_costliest_branch():
    w = jnp.ones((4, 4))

    def f(x):
        y = jax.lax.scan(lambda c, _: (c @ w, None), x, None, length=7)[0]
        return jax.lax.cond(y.sum() > 0, lambda: y @ w @ w, lambda: y @ w)

    assert flops_lib.matmul_flops(jax.make_jaxpr(f)(jnp.ones((3, 4)))) == (7 + 2) * 2 * 3 * 4 * 4


HAND_HLO = """HloModule m

%fused_a (p0: f32[16]) -> f32[16] {
  %p0 = f32[16]{0} parameter(0)
  ROOT %n = f32[16]{0} negate(%p0)
}

%fused_slice (p0: f32[1000,4], p1: s32[]) -> f32[1,4] {
  %p0 = f32[1000,4]{1,0} parameter(0)
  %p1 = s32[] parameter(1)
  %z = s32[] constant(0)
  ROOT %ds = f32[1,4]{1,0} dynamic-slice(%p0, %p1, %z), dynamic_slice_sizes={1,4}
}

%branch_small (t: f32[16]) -> f32[16] {
  %t = f32[16]{0} parameter(0)
  ROOT %f1 = f32[16]{0} fusion(%t), kind=kLoop, calls=%fused_a
}

%branch_big (t: f32[16]) -> f32[16] {
  %t = f32[16]{0} parameter(0)
  %f1 = f32[16]{0} fusion(%t), kind=kLoop, calls=%fused_a
  %f2 = f32[16]{0} fusion(%f1), kind=kLoop, calls=%fused_a
  ROOT %f3 = f32[16]{0} fusion(%f2), kind=kLoop, calls=%fused_a
}

%body (s: (s32[], f32[16], pred[])) -> (s32[], f32[16], pred[]) {
  %s = (s32[], f32[16]{0}, pred[]) parameter(0)
  %i = s32[] get-tuple-element(%s), index=0
  %x = f32[16]{0} get-tuple-element(%s), index=1
  %p = pred[] get-tuple-element(%s), index=2
  %y = f32[16]{0} fusion(%x), kind=kLoop, calls=%fused_a
  %c = f32[16]{0} conditional(%p, %y, %y), true_computation=%branch_big, false_computation=%branch_small
  %g = f32[16]{0} custom-call(%c), custom_call_target="__cublas$gemm"
  ROOT %r = (s32[], f32[16]{0}, pred[]) tuple(%i, %g, %p)
}

%cond (s: (s32[], f32[16], pred[])) -> pred[] {
  %s = (s32[], f32[16]{0}, pred[]) parameter(0)
  %i = s32[] get-tuple-element(%s), index=0
  ROOT %lt = pred[] fusion(%i), kind=kLoop, calls=%fused_a
}

ENTRY %main (a: f32[16], buf: f32[1000,4], k: s32[]) -> f32[1,4] {
  %a = f32[16]{0} parameter(0)
  %buf = f32[1000,4]{1,0} parameter(1)
  %k = s32[] parameter(2)
  %zero = s32[] constant(0)
  %t = pred[] constant(true)
  %init = (s32[], f32[16]{0}, pred[]) tuple(%zero, %a, %t)
  %w = (s32[], f32[16]{0}, pred[]) while(%init), condition=%cond, body=%body, backend_config={"known_trip_count":{"n":"3"}}
  %u = (s32[], f32[16]{0}, pred[]) while(%init), condition=%cond, body=%body, metadata={op_name="x/solve/while"}
  ROOT %row = f32[1,4]{1,0} fusion(%buf, %k), kind=kLoop, calls=%fused_slice
}
"""


def test_hlo_walk_by_hand():
    counts = hlo.count(HAND_HLO, lambda name: 5.0 if name.endswith("solve/while") else None)
    # per body trip: 1 fusion + the costlier branch (3 fusions) + 1 library call = 5 kernels,
    # 1 sync (the conditional); per condition evaluation: 1 kernel and 1 sync.
    # Loop 1: 3 trips (known), loop 2: 5 trips (the rule); then the slice fusion.
    assert counts.kernels == (3 * 5 + 4 * 1) + (5 * 5 + 6 * 1) + 1
    assert counts.library_calls == 3 + 5
    assert counts.syncs == (3 + 4) + (5 + 6)
    assert counts.whiles == 2 and counts.conditionals == 2 and counts.unknown_loops == []
    # Bytes: each fusion of f32[16] reads and writes 64 B; the gemm call too; the condition's
    # fusion reads an s32 (4 B) and writes a pred (1 B); the slice reads one row (16 B) + the
    # index (4 B) of the 16,000 B buffer and writes 16 B.
    per_trip = 64 * 2 * (1 + 3) + 64 * 2
    per_cond = 4 + 1
    assert counts.bytes == 3 * per_trip + 4 * per_cond + 5 * per_trip + 6 * per_cond + 36
    assert hlo.count(HAND_HLO).unknown_loops == ["x/solve/while"]


@pytest.fixture(scope="module")
def chunk_counts():
    """HLO counts of the quick-start's learning program at 4 and 8 iterations per call (CPU)."""
    out = {}
    target = targets.load("cpu")
    trainer = Trainer(planner.target_config(short_quickstart(), target))
    carry = trainer.abstract_carry()
    for iterations in (4, 8):
        text = trainer.program("learn", iterations).lower(carry).compile().as_text()
        computations, entry = hlo.parse_module(text)
        scans = [i for i in computations[entry] if i.opcode == "while"]
        out[iterations] = (hlo.count(text), scans)
    return out


def test_counts_scale_with_the_chunk_length(chunk_counts):
    (four, scans4), (eight, scans8) = chunk_counts[4], chunk_counts[8]
    assert [hlo._known_trips(s.attributes) for s in scans4] == [4]
    assert [hlo._known_trips(s.attributes) for s in scans8] == [8]
    # 4 more iterations add 4 x (the iteration's counts), whatever runs once per chunk.
    for field in ("kernels", "syncs", "bytes", "callbacks"):
        extra = getattr(eight, field) - getattr(four, field)
        assert extra > 0 or field == "callbacks" and extra == 8, field
        per_iteration = extra / 4
        assert per_iteration == pytest.approx(round(per_iteration)), field
        assert getattr(four, field) >= 4 * per_iteration, field
    assert eight.callbacks - four.callbacks == 4 * 2  # C MuJoCo: a step and a reset per iteration


def test_fit_seeds_finds_the_boundary_on_a_small_memory():
    target = targets.load("cpu")
    config = short_quickstart(**{"agent.network.units": 8, "replay.capacity": 20_000})
    report = planner.plan(config, target, programs=("init", "learn"))
    one = report["memory"]["peak_bytes"]
    small = targets.Target(**{**target.__dict__, "memory_bytes": int(2.5 * one)})
    fit = planner.fit_seeds(config, small, report=report)  # its compiles are the first probe
    assert fit["seeds"] >= 1 and fit["next_does_not_fit"] == fit["seeds"] + 1
    probes = {p["seeds"]: p for p in fit["probes"]}
    assert probes[fit["seeds"]]["fits"] and not probes[fit["seeds"] + 1]["fits"]
    assert probes[fit["seeds"] + 1]["peak_bytes"] > 2.5 * one >= probes[fit["seeds"]][
        "peak_bytes"]


def _memory_model(bytes_of):
    """A stand-in for planner.plan whose init and learn programs take bytes_of(seeds)."""
    def fake_plan(config, target, programs=None):
        program = {"compiled": True, "memory": {"total": bytes_of(config.seeds)}}
        return {"programs": {"init": {**program, "memory": {"total": 0}}, "learn": program}}
    return fake_plan


@pytest.mark.parametrize("bytes_of, boundary, most_probes", [
    (lambda n: 10_000 + 1_000 * n, 54, 4),  # affine: 64,000 usable bytes hold 54 seeds
    (lambda n: 10_000 + 200 * n + 12 * n * n, 59, 12),  # convex
    (lambda n: 1_000 * n + (50_000 if n > 20 else 0), 20, 12),  # a cliff after 20 seeds
    (lambda n: 70_000 + n, 0, 2),  # one seed does not fit
])
def test_fit_seeds_search_finds_the_boundary(monkeypatch, bytes_of, boundary, most_probes):
    """The search's probes (no compiles: a memory model stands in for the plan): n fits, n + 1
    does not, in few probes; a plan of the base config counts as its first probe."""
    monkeypatch.setattr(planner, "plan", _memory_model(bytes_of))
    target = targets.Target(**{**targets.load("cpu").__dict__, "memory_bytes": 80_000,
                               "usable_fraction": 0.8})
    config = short_quickstart(seeds=1 if boundary == 0 else 8)
    fit = planner.fit_seeds(config, target)
    assert (fit["seeds"], fit["next_does_not_fit"]) == (boundary, boundary + 1), fit
    assert len(fit["probes"]) <= most_probes, fit["probes"]
    for p in fit["probes"]:
        assert p["fits"] == (bytes_of(p["seeds"]) <= 64_000) and p["peak_bytes"] == bytes_of(
            p["seeds"])
    if boundary:
        report = planner.plan(config, target)
        report["config"] = {"seeds": 8}
        calls = []
        monkeypatch.setattr(planner, "plan", lambda c, t, programs=None: calls.append(
            c.seeds) or _memory_model(bytes_of)(c, t))
        assert planner.fit_seeds(config, target, report=report)["seeds"] == boundary
        assert 8 not in calls and len(calls) == len(fit["probes"]) - 1


def test_fit_seeds_stops_at_its_limit(monkeypatch):
    monkeypatch.setattr(planner, "plan", _memory_model(lambda n: n))
    target = targets.Target(**{**targets.load("cpu").__dict__, "memory_bytes": 1 << 20})
    fit = planner.fit_seeds(short_quickstart(seeds=8), target, limit=100)
    assert fit["seeds"] == 100 and fit["limit"] == 100


@pytest.mark.parametrize("args, message", [
    (["--device=nosuch"], "--device must be cpu, one of"),
    (["--device=cpu", "--config.seeds=0"], "seeds must be an int >= 1"),
    (["--device=cpu", "--config.parallel.seeds_devices=2", "--config.seeds=2"],
     "the plan compiles for one device"),
    (["--device=cpu", "--config.nosuch=1"], "unknown config field"),
])
def test_bad_input_one_line_nothing_written(tmp_path, args, message):
    out = tmp_path / "plan.json"
    result = run_plan(*args, f"--out={out}")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: ") and message in errors[0], \
        result.stderr[-2000:]
    assert not out.exists()


def test_target_configs_shipped():
    text = open(os.path.join(targets.TARGET_DIR, "h200.txtpb")).read()
    assert targets._field(text, "device_memory_size", int) == 151397597184
    assert targets._field(text, "memory_bandwidth") == 4.8e12
    for name in targets.SHIPPED:
        assert os.path.isfile(os.path.join(targets.TARGET_DIR, targets.SHIPPED[name]))


@pytest.mark.skipif(HAS_PLUGIN, reason="JAX's CUDA plugin is installed here")
def test_gpu_target_without_the_plugin_names_it(tmp_path):
    out = tmp_path / "plan.json"
    result = run_plan("--device=h100", f"--out={out}")
    assert result.returncode == 1 and not out.exists()
    assert result.stderr.strip().splitlines() == [
        "error: --device=h100 compiles for an NVIDIA GPU and needs JAX's CUDA plugin, which "
        "is not installed: " + targets.PLUGIN_HINT]


@pytest.mark.skipif(not HAS_PLUGIN, reason="needs JAX's CUDA plugin: pip install -e '.[plan]'")
def test_deviceless_h100_compile(tmp_path):
    """The quick start compiled for an H100 without one (jax.experimental.topologies: this
    fails loudly if that experimental API changes)."""
    out = tmp_path / "plan.json"
    result = run_plan("--config=configs/quickstart.py", "--device=h100", f"--out={out}",
                      env={**cli_env(), "JAX_PLATFORMS": ""}, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["all_compiled"] and report["config"]["backend"] == "mjx"
    assert report["target"]["device_kind"] == "NVIDIA H100 80GB HBM3"
    assert report["per_iteration"]["kernels"] > 100 and report["per_iteration"]["syncs"] >= 1
    assert np.isfinite(report["projection"]["total_s"]) and report["memory"]["fits"]
