"""Where a model's catheter-mask errors are, on synthetic frames whose layers the engine knows.

Each frame's pixels are sorted into: true positives; missed catheter pixels (false negatives);
false positives within 2 px of a labelled catheter (its boundary); false positives on unlabelled
devices that look like catheters (guidewires, sheaths, leads, wires, probes: the engine's
distractor coverage > 0.2, dilated by 1 px) away from the catheters; and false positives
anywhere else (anatomy, noise, text). Also the mean per-image J, and the mean J with the
unlabelled-device pixels away from the catheters left out of the union (what J would be if those
devices were an "ignore" class).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mask_errors.py --weights W [W2 ...] [--frames 100]

Writes benchmarks/results/mask_errors.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

CLASSES = ("true_positive", "false_negative", "fp_catheter_boundary", "fp_unlabelled_device", "fp_elsewhere")


def error_classes(pred: np.ndarray, truth: np.ndarray, device_coverage: np.ndarray,
                  boundary_px: int = 2, device_threshold: float = 0.2) -> dict[str, np.ndarray]:
    """Boolean (H, W) maps of CLASSES for one frame (the false-positive maps do not overlap).

    pred, truth: (H, W) bool masks; device_coverage: (H, W) fraction of each pixel covered by
    unlabelled devices.
    """
    import cv2

    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    near = cv2.dilate(truth.astype(np.uint8), np.ones((2 * boundary_px + 1,) * 2, np.uint8)) > 0
    device = cv2.dilate((device_coverage > device_threshold).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    false_positive = pred & ~truth
    return {
        "true_positive": pred & truth,
        "false_negative": ~pred & truth,
        "fp_catheter_boundary": false_positive & near,
        "fp_unlabelled_device": false_positive & ~near & device,
        "fp_elsewhere": false_positive & ~near & ~device,
    }


def jaccard(classes: dict[str, np.ndarray], ignore_devices: bool = False) -> float:
    """Per-image J from the classes; with ``ignore_devices`` the unlabelled-device false positives
    leave the union. An image with no catheter and no prediction scores 1."""
    tp = int(classes["true_positive"].sum())
    union = sum(int(classes[name].sum()) for name in CLASSES)
    if ignore_devices:
        union -= int(classes["fp_unlabelled_device"].sum())
    return 1.0 if union == 0 else tp / union


def measure(weights: Path, frames: int, seed: int, size: int) -> dict:
    from cathx.data.synthetic.scene import render_frame
    from cathx.inference.predictor import Predictor

    predictor = Predictor.from_checkpoint(weights)
    totals = dict.fromkeys(CLASSES, 0)
    scores, ignoring = [], []
    for i in range(frames):
        frame = render_frame(seed + i, size, None)
        results = predictor(frame.sample.image)
        classes = error_classes(results.mask > 0, frame.sample.mask > 0, frame.distractor_coverage)
        for name in CLASSES:
            totals[name] += int(classes[name].sum())
        scores.append(jaccard(classes))
        ignoring.append(jaccard(classes, ignore_devices=True))
    return {"weights": str(weights), "pixels_per_frame": {k: v / frames for k, v in totals.items()},
            "mean_j": float(np.mean(scores)), "mean_j_devices_ignored": float(np.mean(ignoring))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, nargs="+", required=True)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seed", type=int, default=555_000, help="first seed (no training run uses it)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.system import cpu_description

    rows = [measure(w, args.frames, args.seed, args.size) for w in args.weights]
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu": cpu_description(),
              "frames": args.frames, "first_seed": args.seed, "size": args.size, "results": rows}
    lines = ["# Where the mask errors are (synthetic frames)", "",
             f"{args.frames} frames of {args.size} px, seeds from {args.seed}. Pixels per frame; J = mean per-image "
             "IoU; 'J, devices ignored' leaves the false positives on unlabelled look-alike devices out of the union.",
             "", "| weights | " + " | ".join(CLASSES) + " | mean J | J, devices ignored |",
             "|---|" + "---|" * (len(CLASSES) + 2)]
    for row in rows:
        cells = " | ".join(f"{row['pixels_per_frame'][name]:.0f}" for name in CLASSES)
        lines.append(f"| {row['weights']} | {cells} | {row['mean_j']:.3f} | {row['mean_j_devices_ignored']:.3f} |")
    markdown = "\n".join(lines) + "\n"
    atomic_write_json(args.out / "mask_errors.json", report)
    atomic_write_text(args.out / "mask_errors.md", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
