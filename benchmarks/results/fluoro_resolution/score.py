"""The cathx-fluoro card's scenes drawn at several frame sizes, scored at the frame's own size.

Real fluoroscopy frames are 512-1024 px; cathx resizes every frame to the network's 256 px and
maps the outputs back (cathx predict). This scores what a user gets: the Predictor's mask at the
frame's own size against the engine's label drawn at that size (per-image IoU, mean J), the
label's and the prediction's mask area in 256-px pixels (the label rule's width depends on the
size it is drawn at), and electrode recall within 3 and 5 px and centre errors, both in 256-px
units so that sizes compare.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/results/fluoro_resolution/score.py \
        --weights shipped=src/cathx/weights/cathx-fluoro.safetensors [NAME=PATH ...] [--frames 100]

Appends one row per (weights, size) to scores.json beside this script.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from cathx.data.synthetic import SyntheticReader
from cathx.fileio import atomic_write_json
from cathx.inference.predictor import Predictor
from cathx.metrics.segmentation import iou
from cathx.postprocess.tracking import match
from cathx.system import cpu_description

HERE = Path(__file__).resolve().parent
CARD_SEED = 777_000  # the cathx-fluoro card's scenes (benchmarks/results/fluoro_mask_limits/score.py)
NETWORK_SIZE = 256


def size_scores(predictor: Predictor, size: int, frames: int) -> dict[str, float]:
    """Mean J at ``size`` px, mask areas and electrode recall / centre error in 256-px units."""
    scale = size / NETWORK_SIZE
    reader = SyntheticReader(frames, size=size, seed=CARD_SEED)
    ious, truth_px, found_px, errors = [], [], [], []
    labelled = 0
    for i in range(frames):
        sample = reader[i]
        results = predictor(sample.image)
        ious.append(iou(results.mask > 0, sample.mask > 0))
        truth_px.append((sample.mask > 0).sum() / scale**2)
        found_px.append((results.mask > 0).sum() / scale**2)
        truth = np.asarray(sample.electrodes, np.float64).reshape(-1, 2) / scale
        found = np.asarray(results.electrodes, np.float64).reshape(-1, 2) / scale
        labelled += len(truth)
        if len(truth) and len(found):
            pairs = match(np.linalg.norm(truth[:, None] - found[None], axis=2), 5.0)
            errors += [float(np.linalg.norm(truth[g] - found[p])) for g, p in pairs]
    errors_px = np.asarray(errors)
    return {"mean_j": float(np.mean(ious)), "label_px": float(np.mean(truth_px)), "mask_px": float(np.mean(found_px)),
            "recall3": float((errors_px <= 3.0).sum() / max(labelled, 1)),
            "recall5": float(len(errors_px) / max(labelled, 1)),
            "centre_error_median": float(np.median(errors_px)) if len(errors_px) else float("nan"),
            "centre_error_p90": float(np.percentile(errors_px, 90)) if len(errors_px) else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="+", required=True, help="NAME=PATH")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    args = parser.parse_args()
    torch.set_num_threads(2)
    path = HERE / "scores.json"
    record = json.loads(path.read_text()) if path.exists() else {
        "what": f"the card's scenes (seeds from {CARD_SEED}) drawn at each size, scored at that size; "
                "areas and electrode errors in 256-px units", "rows": []}
    for item in args.weights:
        name, weights = item.split("=", 1)
        predictor = Predictor.from_checkpoint(weights, precision=args.precision)
        for size in (int(s) for s in args.sizes.split(",")):
            scores = {k: round(v, 4) for k, v in size_scores(predictor, size, args.frames).items()}
            row = {"name": name, "weights": weights, "size": size, "frames": args.frames, **scores,
                   "precision": args.precision, "cpu": cpu_description(),
                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
            record["rows"].append(row)
            atomic_write_json(path, record)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
