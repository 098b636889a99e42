"""How much do two reasonable label rules for the same catheters disagree?

The engine labels a pixel when at least half of it is covered by the catheter's tube, counting
coverage on a canvas ``SUPERSAMPLE`` (2) times finer than the image, so from 4 samples per pixel.
This renders the card's scenes (seeds from 777,000) with the canvas 2, 4 and 8 times finer (16
and 64 samples per pixel; the scenes are the same, only the rasterisation changes) and reports
the labelled pixels per frame and the mean J between the label sets: how far apart label rules
can be that all follow "covers at least half of the pixel".

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/results/fluoro_mask_limits/label_rules.py --frames 100
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
from score import CARD_SEED  # this folder's score.py: the card's frames

from cathx.data.synthetic import SyntheticReader, scene
from cathx.fileio import atomic_write_json
from cathx.metrics.segmentation import iou, mean_j
from cathx.system import cpu_description

HERE = Path(__file__).resolve().parent


def labels(frames: int, factor: int) -> list[np.ndarray]:
    """The card's first ``frames`` catheter masks rasterised on a ``factor`` times finer canvas."""
    scene.SUPERSAMPLE = factor  # the engine's own module constant, read at every render
    reader = SyntheticReader(frames, size=256, seed=CARD_SEED)
    return [reader[i].mask > 0 for i in range(frames)]


def mean_iou(first: list[np.ndarray], second: list[np.ndarray]) -> float:
    return mean_j([iou(a, b) for a, b in zip(first, second, strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--factors", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args()
    default = scene.SUPERSAMPLE
    masks = {factor: labels(args.frames, factor) for factor in args.factors}
    scene.SUPERSAMPLE = default
    record = {
        "what": f"label rules on the cathx-fluoro card's first {args.frames} scenes (256 px, seeds from {CARD_SEED})",
        "engine_factor": default,
        "pixels_per_frame": {str(f): round(float(np.mean([m.sum() for m in masks[f]])), 1) for f in args.factors},
        "mean_j_between": {f"{a}x-{b}x": round(mean_iou(masks[a], masks[b]), 4)
                           for a, b in itertools.combinations(args.factors, 2)},
        "cpu": cpu_description(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    atomic_write_json(HERE / "label_rules.json", record)
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
