"""Rerun the benchmarks that need no trained weights, one after another (`make bench`).

Each script writes its JSON and markdown into benchmarks/results/. Together they take about
an hour on a 2-core CPU (the training demo alone 15 minutes); `--only NAME ...` picks some.
realtime_accuracy.py needs two checkpoints and is not run here: see its --help.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Cheapest first, so a failure shows up early.
SCRIPTS: tuple[str, ...] = (
    "model_complexity",
    "output_stride_ceiling",
    "catheter_type",
    "tracking",
    "latency",
    "baselines_latency",
    "readers_memory",
    "synth_speed",
    "chest_demo",
    "train_demo",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, metavar="NAME",
                        help=f"run only these ({', '.join(SCRIPTS)})")
    args = parser.parse_args(argv)
    failed: list[str] = []
    for name in args.only or SCRIPTS:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / f"{name}.py")])
        print(f"== {name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
