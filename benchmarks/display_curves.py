"""How much a model's catheter mask depends on the display curve (issue 12).

Sites show the same detector signal through different curves (gamma, window/level, S-shaped
LUTs, a narrow grey range). The same synthetic frames (seeds from 777,000, the model card's test
split) are passed through each curve below after the engine's own display, and the mask is scored
against the true mask (mean J) and against the mask of the unchanged frame (self-overlap: 1.0
means the curve changed nothing).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/display_curves.py \
        --weights cathx-fluoro,<another checkpoint> [--frames 50]

Writes benchmarks/results/display_curves.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIRST_SEED = 777_000

# Grey values in [0, 1] (dense = dark) -> [0, 1]; each a curve a display chain may apply.
CURVES = {
    "unchanged": lambda x: x,
    "compressed 0.4-0.6": lambda x: 0.4 + 0.2 * x,
    "gamma 0.4": lambda x: x ** 0.4,
    "gamma 2.5": lambda x: x ** 2.5,
    "window 0.3-0.8": lambda x: np.clip((x - 0.3) / 0.5, 0.0, 1.0),
    "S-curve": lambda x: 1.0 / (1.0 + np.exp(-10.0 * (x - 0.5))),
}


def score(weights: str, frames: int) -> dict:
    import cathx
    from cathx.data.synthetic import generate_frame
    from cathx.metrics.segmentation import iou

    model = cathx.load(weights)
    truth_j = {name: [] for name in CURVES}
    self_j = {name: [] for name in CURVES}
    for seed in range(FIRST_SEED, FIRST_SEED + frames):
        sample = generate_frame(seed, size=256)
        truth = sample.mask > 0
        plain = np.asarray(model.predict(sample.image).mask) > 0
        for name, curve in CURVES.items():
            shown = np.asarray(model.predict(curve(sample.image).astype(np.float32)).mask) > 0
            truth_j[name].append(iou(shown, truth))
            self_j[name].append(iou(shown, plain))
    return {name: {"mean_j": round(float(np.mean(truth_j[name])), 4),
                   "self_overlap": round(float(np.mean(self_j[name])), 4)} for name in CURVES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="cathx-fluoro", help="comma-separated model names or checkpoints")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.system import cpu_description

    started = time.time()
    rows = {w: score(w, args.frames) for w in args.weights.split(",")}
    record = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "command": "python benchmarks/display_curves.py " + " ".join(sys.argv[1:]),
              "cpu": cpu_description(), "frames": args.frames, "first_seed": FIRST_SEED,
              "seconds": round(time.time() - started, 1), "results": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "display_curves.json", record)
    names = list(CURVES)
    lines = ["# Catheter mask under different display curves", "",
             f"{record['created']}, {record['cpu']}. Command: `{record['command']}`.",
             f"{args.frames} synthetic frames at 256 px, seeds from {FIRST_SEED}; each cell: mean J against the "
             "true mask / overlap with the mask of the unchanged frame.", "",
             "| weights | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for weights, row in rows.items():
        lines.append(f"| {weights} | " + " | ".join(f"{row[n]['mean_j']:.3f} / {row[n]['self_overlap']:.3f}"
                                                    for n in names) + " |")
    atomic_write_text(args.out / "display_curves.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
