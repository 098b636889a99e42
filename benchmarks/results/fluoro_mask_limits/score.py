"""Network-only scores of weights on the cathx-fluoro card's 200 frames (fp32, seeds from 777,000).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/results/fluoro_mask_limits/score.py \
        --weights NAME=PATH [NAME=PATH ...]

Appends one row per weights file to scores.json beside this script, or to --out (the same call as
the parts' figures in docs/models.md: cathx.training.evaluate with a SyntheticReader of the card's seeds).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from cathx.data.synthetic import SyntheticReader
from cathx.fileio import atomic_write_json
from cathx.system import cpu_description
from cathx.training.evaluate import evaluate

HERE = Path(__file__).resolve().parent
CARD_SEED = 777_000
KEYS = ("mean_j", "dice", "ap", "ap50", "ap75", "mae", "recall5")


def network_scores(weights: str | Path, reader, keys: tuple[str, ...] = KEYS) -> dict[str, float]:
    """``keys`` of cathx.training.evaluate's summary, fp32, over ``reader``'s frames (reports thrown away)."""
    with tempfile.TemporaryDirectory() as out:
        summary = evaluate(weights, None, out, reader=reader, plots=False, precision="fp32")
    return {k: round(float(summary[k]), 4) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="+", required=True, help="NAME=PATH")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--out", type=Path, default=HERE / "scores.json", help="JSON record to append to")
    args = parser.parse_args()
    torch.set_num_threads(2)
    path = args.out
    record = json.loads(path.read_text()) if path.exists() else {
        "what": f"network only, fp32, the cathx-fluoro card's frames (256 px, seeds from {CARD_SEED})", "rows": []}
    reader = SyntheticReader(args.frames, size=256, seed=CARD_SEED)
    for item in args.weights:
        name, weights = item.split("=", 1)
        row = {"name": name, "weights": weights, "frames": args.frames, **network_scores(weights, reader),
               "cpu": cpu_description(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        record["rows"].append(row)
        atomic_write_json(path, record)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
