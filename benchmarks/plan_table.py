"""The OJK21 table's cells planned for a GPU without one (`ofe_jax.plan` per cell): compiled?,
peak device memory at 8 seeds, the largest seed count that fits (--fit), kernels and host
synchronisations per training iteration, projected hours for the run (1M env steps).

    JAX_PLATFORMS=cpu python -m benchmarks.plan_table --device h100 --fit \
        --out benchmarks/results/plan_h100.json

Needs JAX's CUDA plugin (`pip install -e '.[plan]'`). Every compile runs on this CPU (minutes
per MJX program), so the JSON is rewritten after every cell and --resume skips the cells it
already holds. Projections are the plan's model (ofe_jax/aot/model.py), not measurements.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from benchmarks import common  # noqa: E402
from ofe_jax.aot import planner, targets  # noqa: E402
from ofe_jax.config import paper  # noqa: E402

SEEDS = 8


def cells(algorithms: list[str]) -> list[str]:
    """SAC for every task x variant first, then the other algorithms' cells."""
    out = []
    for algorithm in algorithms:
        out += [f"{task},{algorithm},{variant}" for task in paper.TASKS
                for variant in paper.VARIANTS]
    return out


def summary(spec: str, report: dict) -> dict:
    row = {"spec": spec, "compiled": report["all_compiled"],
           "errors": {k: v["error"] for k, v in report["programs"].items()
                      if not v["compiled"]},
           "seeds": report["config"]["seeds"], "backend": report["config"]["backend"],
           "peak_memory_bytes": report["memory"]["peak_bytes"],
           "fits": report["memory"]["fits"], "peak_program": report["memory"]["peak_program"],
           "compile_s": {k: v["compile_s"] for k, v in report["programs"].items()}}
    if "per_iteration" in report:
        i = report["per_iteration"]
        row.update(kernels_per_iteration=i["kernels"], syncs_per_iteration=i["syncs"],
                   matmul_flops_per_iteration=i["matmul_flops"],
                   bytes_per_iteration=i["bytes"], unknown_loops=report["unknown_loops"])
    if "projection" in report:
        p = report["projection"]
        row.update(projected_hours=p["hours"], projected_s_by_program=p["by_program"])
    row["iterations_per_call"] = {k: v.get("iterations_per_call")
                                  for k, v in report["programs"].items()
                                  if "iterations_per_call" in v}
    row["solver_trips"] = report["physics"]["solver_trips"]
    return row


def main(argv=None) -> None:
    parser = common.argument_parser(__doc__, "benchmarks/results/plan_h100.json")
    parser.add_argument("--device", default="h100")
    parser.add_argument("--algorithms", default="sac,td3")
    parser.add_argument("--cells", default="", help="comma-free list: spec;spec;... "
                        "(default: the whole table)")
    parser.add_argument("--first", default="", help="spec;spec;...: these cells first, then "
                        "the rest of the table (a partial run covers the cells that matter)")
    parser.add_argument("--fit", action="store_true", help="also the largest seeds that fit")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(common.default_argv(argv))
    target = targets.load(args.device)
    specs = args.cells.split(";") if args.cells else cells(args.algorithms.split(","))
    first = [spec for spec in args.first.split(";") if spec]
    specs = first + [spec for spec in specs if spec not in first]
    run = common.Run("plan_table", common.default_argv(argv),
                     {"device": args.device, "seeds": SEEDS, "cells": specs,
                      "plugin": targets.cuda_plugin_version()})
    rows = []
    if args.resume and os.path.exists(args.out):
        import json

        with open(args.out) as f:
            rows = json.load(f)["results"]["rows"]
    done = {r["spec"] for r in rows}
    for spec in specs:
        if spec in done:
            continue
        config = paper.get_config(spec)
        config.seeds = SEEDS
        report = planner.plan(config, target)
        row = summary(spec, report)
        if args.fit:
            row["fit_seeds"] = planner.fit_seeds(config, target, report=report)
        rows.append(row)
        print(row, flush=True)
        common.write_json(args.out, run.finish({"rows": rows}, method=__doc__,
                                               note=args.note))


if __name__ == "__main__":
    main()
