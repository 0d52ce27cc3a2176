"""python -m benchmarks.tables [--check] (the package docstring)."""

import argparse
import os
import sys

import benchmarks.tables as tables
from benchmarks.tables import REPO_ROOT, render, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=tables.__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a page is not what the results render")
    args = parser.parse_args(argv)
    if args.check:
        out = stale()
        for page in out:
            print(f"stale: {page} (run `python -m benchmarks.tables`)")
        return 1 if out else 0
    for page, text in render().items():
        with open(page) as f:
            if f.read() == text:
                continue
        with open(page, "w") as f:
            f.write(text)
        print(f"wrote {os.path.relpath(page, REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
