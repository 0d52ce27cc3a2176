"""Scaling benchmarks, one script per part, all writing their part of ONE JSON file.

    python -m benchmarks.scaling --part updates [options]   # = python -m benchmarks.scaling_updates
    python -m benchmarks.scaling --part envs [options]      # = python -m benchmarks.scaling_envs
    python -m benchmarks.scaling --part per [options]       # = python -m benchmarks.replay_cost

Parts (see each script's docstring and --help for its options):

    updates  SAC updates/s against the network width and the number of vmapped seeds, with the
             achieved matmul FLOP/s next to the device's peak (benchmarks/scaling_updates.py)
    envs     the full training loop's env-steps/s and updates/s against env.num_envs (and
             parallel.data_devices with several devices) (benchmarks/scaling_envs.py)
    per      one prioritised-replay sample + priority update against one uniform sample
             (benchmarks/replay_cost.py)

Each part writes its record (schema of benchmarks/common.py) into parts[<part>] of --out
(default benchmarks/results/scaling.json), keeping the other parts there, and its plot where it
has one (--plot PATH; '' for none).
"""

from __future__ import annotations

import argparse
import importlib
import os

from benchmarks import common

PARTS = {"updates": "scaling_updates", "envs": "scaling_envs", "per": "replay_cost"}
CONTAINER = "scaling"
DEFAULT_OUT = "benchmarks/results/scaling.json"


PLATFORM_LABELS = {"cpu": "on CPU", "accelerator": "on accelerators"}


def platform_kind() -> str:
    """"cpu" or "accelerator": the kind of the first device, which sets the parts' defaults."""
    import jax

    return "cpu" if jax.devices()[0].platform == "cpu" else "accelerator"


def part_parser(doc: str) -> argparse.ArgumentParser:
    """The parser of every part script: --out (the parts file: this part is written into it,
    the others are kept), --note, --plot."""
    parser = common.argument_parser(doc, DEFAULT_OUT)
    parser.add_argument("--plot", default=None,
                        help="plot path (default: the part's own file name next to --out, "
                             "where it has one; '' for no plot)")
    return parser


def write_part(args: argparse.Namespace, part: str, record: dict, plot=None,
               default_plot: str | None = None) -> None:
    """Plots (if the part has a plot and one is asked or defaulted) and writes parts[part]."""
    path = args.plot
    if path is None and default_plot:
        path = os.path.join(os.path.dirname(os.path.abspath(args.out)), default_plot)
    if path and plot is not None:
        record["results"]["plot"] = os.path.relpath(path)
        plot(record, path)
        print(f"# wrote {path}")
    common.write_json(args.out, record, part=part, container=CONTAINER)
    print(f"# wrote {args.out} (part {part!r}, {record['load']['wall_s']:.0f} s)")


def main(argv: list[str] | None = None) -> dict:
    argv = common.default_argv(argv)
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()), add_help=False,
        epilog="Every other option goes to the part's script: python -m benchmarks.scaling "
               "--part updates --help lists those of part updates.")
    parser.add_argument("--part", choices=sorted(PARTS))
    parser.add_argument("-h", "--help", action="store_true")
    args, rest = parser.parse_known_args(argv)
    if args.part is None:
        parser.print_help()
        print("\n" + __doc__)
        raise SystemExit(0 if args.help else 2)
    module = importlib.import_module(f"benchmarks.{PARTS[args.part]}")
    return module.main(rest + (["--help"] if args.help else []))


if __name__ == "__main__":
    main()
