"""Plan a run for a device without running it (and without the device): compile every program
the run executes for that device, say whether it fits and project how long it takes.

    python -m ofe_jax.plan --config=configs/paper.py:Hopper-v5,sac,mlp --device=h100
    python -m ofe_jax.plan --config=... --device=h200 --fit-seeds --out plan.json
    python -m ofe_jax.plan --config=configs/quickstart.py --device=cpu

--device: cpu (this machine; no extra install), h100, h200, a100, or a GpuTargetConfigProto
text-proto file; GPU targets need JAX's CUDA plugin (`pip install -e '.[plan]'`). The plan
compiles with JAX_PLATFORMS=cpu (set here), whatever devices this machine has. The time is a
projection from a stated model (ofe_jax/aot/model.py), not a measurement.
"""

import json
import os

os.environ["JAX_PLATFORMS"] = "cpu"  # before jax is imported: deviceless GPU compilation

from absl import flags  # noqa: E402

from ofe_jax import cli  # noqa: E402

_CONFIG = cli.define_config(os.path.join(os.path.dirname(__file__), "config", "quickstart.py"),
                            "Training config file, as for ofe_jax.main.")
_DEVICE = flags.DEFINE_string("device", "h100", "cpu | h100 | h200 | a100 | a target-config "
                              "text-proto file.")
_OUT = flags.DEFINE_string("out", None, "Write the whole plan as JSON here.")
_FIT = flags.DEFINE_bool("fit_seeds", False, "Also find the largest `seeds` that fits, for the "
                         "config's replay.obs_dtype and for bfloat16 observations.")
_MEMORY = flags.DEFINE_integer("memory_bytes", None, "Device memory to plan for instead of the "
                               "target's (what-if; the usable fraction still applies).",
                               lower_bound=1)


def _gb(x: float) -> str:
    return f"{x / 1e9:,.2f} GB"


def table(report: dict) -> str:
    c, t = report["config"], report["target"]
    lines = [f"plan: {c['env']} {c['agent']} {c['network']} {c['units']}"
             f"{' + OFENet' if c['ofenet'] else ''}, {c['members']} member(s) x "
             f"{c['num_envs']} env(s), backend {c['backend']}, {c['precision']} matmuls, on "
             f"{t['device_kind']} ({t['name']})",
             f"{'program':<12} {'runs':>6} {'compiled':>8} {'memory':>10} {'kernels':>10} "
             f"{'syncs':>8} {'GFLOP':>10} {'GB moved':>9} {'s/run*':>9} {'compile':>8}"]
    for name, p in report["programs"].items():
        if not p["compiled"]:
            lines.append(f"{name:<12} {p['runs']:>6} {'NO':>8}  {p['error']}")
            continue
        k = p["counts"]
        lines.append(f"{name:<12} {p['runs']:>6} {'yes':>8} {p['memory']['total'] / 1e9:>8.3f}GB"
                     f" {k['kernels']:>10,.0f} {k['syncs']:>8,.0f} "
                     f"{p['matmul_flops'] / 1e9:>10,.2f} {k['bytes'] / 1e9:>9,.3f} "
                     f"{p['seconds']['total_s']:>9.4f} {p['compile_s']:>7.1f}s")
    m = report["memory"]
    lines.append(f"peak device memory {_gb(m['peak_bytes'])} ({m['peak_program']}) of "
                 f"{_gb(t['usable_bytes'])} usable: {'fits' if m['fits'] else 'DOES NOT FIT'}")
    if "per_iteration" in report:
        i = report["per_iteration"]
        lines.append(f"per training iteration (one env step of every env + "
                     f"{c['updates_per_iteration']} update(s)): {i['kernels']:,.0f} kernels "
                     f"({i['library_calls']:,.0f} library calls), {i['syncs']:,.1f} host syncs, "
                     f"{i['matmul_flops'] / 1e6:,.1f} MFLOP, {i['bytes'] / 1e6:,.2f} MB")
    if report.get("unknown_loops"):
        lines.append(f"loops counted once (trip count unknown): {report['unknown_loops']}")
    if "projection" in report:
        p = report["projection"]
        lines.append(f"projected wall time for {c['total_steps']:,} env steps: "
                     f"{p['total_s'] / 3600:,.2f} h ({p['total_s']:,.0f} s) -- "
                     f"{p['label']}; * s/run is the model's too")
        lines.append(f"model: {p['model']}")
    for key, fit in report.get("fit_seeds", {}).items():
        lines.append(f"largest seeds that fit ({key} observations): {fit['seeds']}"
                     + (f" ({fit['next_does_not_fit']} does not)"
                        if fit.get("next_does_not_fit") else ""))
    return "\n".join(lines)


def main(argv) -> int:
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}", 2)
    cli.import_mujoco()  # a MUJOCO_GL without its library only matters to videos
    config = cli.load_config(_CONFIG)
    from ofe_jax.aot import planner, targets

    target = targets.load(_DEVICE.value)
    if _MEMORY.value is not None:
        import dataclasses

        target = dataclasses.replace(target, memory_bytes=_MEMORY.value)
    report = planner.plan(config, target)
    if _FIT.value:
        report["fit_seeds"] = {}
        for dtype in dict.fromkeys((config.replay.obs_dtype, "bfloat16")):
            c = config.copy_and_resolve_references()
            c.replay.obs_dtype = dtype
            report["fit_seeds"][dtype] = planner.fit_seeds(
                c, target, report=report if dtype == config.replay.obs_dtype else None)
    print(table(report))
    if _OUT.value:
        tmp = _OUT.value + ".tmp"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1, default=str)
        os.replace(tmp, _OUT.value)
    return 0 if report["all_compiled"] else 1


def _spelled(argv: list[str]) -> list[str]:
    """--fit-seeds / --memory-bytes as well as absl's --fit_seeds / --memory_bytes."""
    out = []
    for a in argv:
        name, eq, value = a.partition("=")
        if name in ("--fit-seeds", "--nofit-seeds", "--memory-bytes"):
            a = name.replace("-", "_")[:2].replace("_", "-") + name[2:].replace("-", "_") \
                + eq + value
        out.append(a)
    return out


if __name__ == "__main__":
    import sys

    cli.run(main, _spelled(sys.argv))
