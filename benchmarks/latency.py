"""Latency benchmark: paper and realtime profiles, torch eager (channels-last), ONNX Runtime fp32 and
static int8, batch 1 at 256x256, end to end; writes benchmarks/results/latency.json and latency.md.

    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/latency.py [--frames 30] [--weights W]

Same as `cathx bench --model paper --model realtime --backend torch --backend onnx --int8`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--model", action="append", default=None, help="profiles (default paper, realtime)")
    parser.add_argument("--backend", action="append", default=None, help="torch / onnx (default both)")
    parser.add_argument("--no-int8", action="store_true")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--input-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch and ORT intra-op threads")
    parser.add_argument("--precision", action="append", choices=("auto", "fp32", "bf16"), default=None,
                        help="what torch computes in, repeatable: one variant each (default auto)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    from cathx.benchmarking.latency import run_bench

    models = args.model if args.model is not None else ([] if args.weights else ["paper", "realtime"])
    report = run_bench(weights=args.weights, models=models, backends=args.backend or ["torch", "onnx"],
                       int8=not args.no_int8, frames=args.frames, input_size=args.input_size, out=args.out,
                       threads=args.threads, precisions=args.precision or ["auto"])
    print(report["markdown"])


if __name__ == "__main__":
    main()
