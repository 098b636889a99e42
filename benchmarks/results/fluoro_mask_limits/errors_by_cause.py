"""The shipped network's mask errors on the card's scenes, by cause: pixels per frame.

False positives: within 2 px of a labelled catheter or farther, on an unlabelled device (its
coverage > 0.2, dilated by 1 px: sheaths around a catheter, wires, leads) or not. False negatives:
under an unlabelled device, within 1 px of the predicted mask (its edge), or farther (a missed
stretch). Pipeline output (`Predictor`, fp32), frames rendered by the default engine from the
card's seeds (777,000 on).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/results/fluoro_mask_limits/errors_by_cause.py [--frames 100]

Writes errors_by_cause.json beside this script.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from score import CARD_SEED  # this folder's score.py: the card's frames

from cathx.data.synthetic.scene import render_frame
from cathx.fileio import atomic_write_json
from cathx.inference.predictor import Predictor
from cathx.system import cpu_description
from cathx.zoo import resolve_weights

HERE = Path(__file__).resolve().parent


def causes(pred: np.ndarray, truth: np.ndarray, device_coverage: np.ndarray) -> dict[str, int]:
    """Pixel counts of each cause for one frame; pred, truth (H, W) bool, device_coverage (H, W) float."""
    def dilate(mask: np.ndarray, px: int) -> np.ndarray:
        return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1,) * 2, np.uint8)) > 0

    device = dilate(device_coverage > 0.2, 1)
    near_truth, near_pred = dilate(truth, 2), dilate(pred, 1)
    fp, fn = pred & ~truth, truth & ~pred
    return {"true positive": int((pred & truth).sum()),
            "FP near a catheter, on a device": int((fp & near_truth & device).sum()),
            "FP near a catheter, no device (edge)": int((fp & near_truth & ~device).sum()),
            "FP far, on a device": int((fp & ~near_truth & device).sum()),
            "FP far, no device": int((fp & ~near_truth & ~device).sum()),
            "FN under a device": int((fn & device).sum()),
            "FN at the predicted edge": int((fn & ~device & near_pred).sum()),
            "FN far from the prediction (missed stretch)": int((fn & ~device & ~near_pred).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="cathx-fluoro")
    parser.add_argument("--frames", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(2)
    predictor = Predictor.from_checkpoint(resolve_weights(args.weights), precision="fp32")
    totals: dict[str, int] = {}
    for i in range(args.frames):
        frame = render_frame(CARD_SEED + i)
        found = causes(np.asarray(predictor(frame.sample.image).mask, bool), frame.sample.mask > 0,
                       frame.distractor_coverage)
        for key, value in found.items():
            totals[key] = totals.get(key, 0) + value
    per_frame = {k: round(v / args.frames, 1) for k, v in totals.items()}
    tp = totals["true positive"]
    fp = sum(v for k, v in totals.items() if k.startswith("FP"))
    fn = sum(v for k, v in totals.items() if k.startswith("FN"))

    def pooled_j(fixed_fp: tuple[str, ...], fixed_fn: tuple[str, ...]) -> float:
        gained = sum(totals[k] for k in fixed_fn)
        return round((tp + gained) / (tp + fp + fn - sum(totals[k] for k in fixed_fp)), 4)

    record = {"weights": args.weights, "frames": args.frames, "seed": CARD_SEED, "precision": "fp32",
              "pixels_per_frame": per_frame,
              "pooled_j": pooled_j((), ()),
              "pooled_j_edges_fixed": pooled_j(("FP near a catheter, no device (edge)",), ("FN at the predicted edge",)),
              "pooled_j_devices_fixed": pooled_j(("FP near a catheter, on a device", "FP far, on a device"),
                                                 ("FN under a device",)),
              "note": "pooled J = all frames' true positives over their union (the card's mean J averages per frame)",
              "cpu": cpu_description(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    atomic_write_json(HERE / "errors_by_cause.json", record)
    for key, value in per_frame.items():
        print(f"{key:45s} {value:8.1f}")
    print({k: v for k, v in record.items() if k.startswith("pooled")})


if __name__ == "__main__":
    main()
