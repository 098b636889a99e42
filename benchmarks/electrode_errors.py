"""Where a model's electrode AP goes: ranking and recall, centre precision or box size.

The electrode boxes are small (3-5 px a side at 256 px), so COCO AP@[.50:.95] is mostly a measure
of sub-pixel centre precision. This script scores the model's detections as `cathx val` does
(cathx.metrics.detection.coco_ap, detections decoded as cathx.training.evaluate does) and again
with parts of each detection replaced by the truth: for every detection matched one-to-one to a
labelled electrode within ``--match-px``, its size, its centre, or both become the labelled
electrode's. "Both" leaves only what ranking and recall cost; the steps between the rows say
what the centre and the size errors cost. Also the matched detections' centre errors (median,
p90, mean signed bias per axis: a half-pixel convention error would show there) and size ratios,
and AP with every predicted size scaled by a common factor (whether the size head is biased).
Last, recall within ``--match-px`` at any score by how far each labelled electrode's nearest
labelled neighbour lies (rings closer than the heatmap can separate are what recall misses).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/electrode_errors.py [--weights cathx-fluoro] [--frames 200]

Writes benchmarks/results/electrode_errors.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

SIZE_SCALES = (0.9, 1.0, 1.1, 1.2)
ERROR_MIN_SCORE = 0.3  # the detections whose centre errors and size ratios are reported (cathx predict's peak threshold)
NEIGHBOUR_BINS = (0.0, 2.0, 3.0, 4.0, 6.0)  # px at 256 px: lower edges of the recall-by-spacing rows
ORACLES = (("model", False, False), ("true size", False, True), ("true centre", True, False),
           ("true centre and size", True, True))


def with_truth(detections: np.ndarray, points: np.ndarray, sizes: np.ndarray, centre: bool, size: bool,
               max_distance: float) -> np.ndarray:
    """A copy of one image's detections (K, 5) [x, y, score, w, h] in which each detection matched
    one-to-one (cathx.metrics.detection.match_points, <= ``max_distance`` px) to a labelled
    electrode (points (G, 2), sizes (G, 2)) takes that electrode's centre and/or size. Scores and
    unmatched detections are unchanged."""
    from cathx.metrics.detection import match_points

    out = np.array(detections, np.float64).reshape(-1, 5)
    found, truth, _ = match_points(out[:, :2], points, max_distance)
    if centre:
        out[found, :2] = np.asarray(points, np.float64).reshape(-1, 2)[truth]
    if size:
        out[found, 3:5] = np.asarray(sizes, np.float64).reshape(-1, 2)[truth]
    return out


def matched_errors(detections: list[np.ndarray], targets: list[tuple[np.ndarray, np.ndarray]],
                   min_score: float, max_distance: float) -> dict[str, float]:
    """Centre error and size ratio of the detections scoring >= ``min_score`` matched one-to-one to
    labelled electrodes: median and p90 distance (px), mean signed x and y error (px), median
    predicted / true width and height."""
    from cathx.metrics.detection import match_points

    offsets, ratios = [], []
    for found, (points, sizes) in zip(detections, targets, strict=True):
        found = np.asarray(found, np.float64).reshape(-1, 5)
        found = found[found[:, 2] >= min_score]
        rows, cols, _ = match_points(found[:, :2], points, max_distance)
        offsets.append(found[rows, :2] - np.asarray(points, np.float64).reshape(-1, 2)[cols])
        ratios.append(found[rows, 3:5] / np.maximum(np.asarray(sizes, np.float64).reshape(-1, 2)[cols], 1e-6))
    offset, ratio = np.concatenate(offsets), np.concatenate(ratios)
    if len(offset) == 0:
        return {"matched": 0}
    distance = np.hypot(offset[:, 0], offset[:, 1])
    return {"matched": len(offset), "median_px": float(np.median(distance)),
            "p90_px": float(np.percentile(distance, 90)), "bias_x_px": float(offset[:, 0].mean()),
            "bias_y_px": float(offset[:, 1].mean()), "width_ratio_median": float(np.median(ratio[:, 0])),
            "height_ratio_median": float(np.median(ratio[:, 1]))}


def recall_by_neighbour(detections: list[np.ndarray], targets: list[tuple[np.ndarray, np.ndarray]],
                        max_distance: float, bins: tuple[float, ...] = NEIGHBOUR_BINS) -> list[dict]:
    """Recall of labelled electrodes (matched one-to-one within ``max_distance`` px to a detection
    of any score) in rows by the distance to their nearest labelled neighbour in the same image:
    [{"from": lo, "to": hi or None, "electrodes": n, "recall": r}] for consecutive ``bins`` (the
    last row open-ended; an electrode alone in its image falls in it)."""
    from cathx.metrics.detection import match_points

    nearest, hit = [], []
    for found, (points, _) in zip(detections, targets, strict=True):
        points = np.asarray(points, np.float64).reshape(-1, 2)
        if len(points) == 0:
            continue
        gaps = np.linalg.norm(points[:, None] - points[None], axis=2)
        np.fill_diagonal(gaps, np.inf)
        nearest.append(gaps.min(axis=1))
        matched = np.zeros(len(points), bool)
        _, truth, _ = match_points(np.asarray(found, np.float64).reshape(-1, 5)[:, :2], points, max_distance)
        matched[truth] = True
        hit.append(matched)
    nearest = np.concatenate(nearest) if nearest else np.zeros(0)
    hit = np.concatenate(hit) if hit else np.zeros(0, bool)
    rows = []
    for i, low in enumerate(bins):
        high = bins[i + 1] if i + 1 < len(bins) else np.inf
        inside = (nearest >= low) & (nearest < high)
        rows.append({"from": low, "to": None if np.isinf(high) else high, "electrodes": int(inside.sum()),
                     "recall": float(hit[inside].mean()) if inside.any() else float("nan")})
    return rows


def predict(weights: str, frames: int, seed: int, size: int) -> tuple[list, list]:
    """Per image: (points (G, 2), sizes (G, 2)) labelled and detections (K, 5), as cathx val decodes them."""
    import torch
    from torch.utils.data import DataLoader

    from cathx.checkpoint import load_model
    from cathx.data.datasets import SampleDataset
    from cathx.data.synthetic import SyntheticReader
    from cathx.data.transforms import build_transforms
    from cathx.heatmap import decode_peaks
    from cathx.training.evaluate import DETECTION_THRESHOLD
    from cathx.zoo import resolve_weights

    model, _ = load_model(resolve_weights(weights))
    model.eval()
    dataset = SampleDataset(SyntheticReader(frames, size=size, seed=seed), transform=build_transforms(size, train=False))
    targets, detections = [], []
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=8):
            outputs = model(batch["image"])
            found = decode_peaks(outputs["heatmap"], outputs.get("size"), stride=model.output_stride, k=64,
                                 threshold=DETECTION_THRESHOLD, logits=True)
            for i, image_found in enumerate(found):
                valid = batch["electrode_valid"][i].numpy()
                targets.append((batch["electrodes"][i].numpy()[valid], batch["electrode_sizes"][i].numpy()[valid]))
                detections.append(np.asarray(image_found, np.float64).reshape(-1, 5))
    return targets, detections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="cathx-fluoro", help="shipped model name or weights file")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--seed", type=int, default=555_000, help="first seed (no training run uses it)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--match-px", type=float, default=3.0, help="match radius for the truth swaps")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.metrics.detection import coco_ap
    from cathx.system import cpu_description
    from cathx.training.evaluate import DETECTION_THRESHOLD

    started = time.perf_counter()
    targets, detections = predict(args.weights, args.frames, args.seed, args.size)

    def scores(found: list[np.ndarray]) -> dict[str, float]:
        result = coco_ap(targets, found)
        return {key: float(result[key]) for key in ("ap", "ap50", "ap75")}

    oracle_rows = {name: scores([with_truth(d, p, s, centre, size, args.match_px)
                                 for d, (p, s) in zip(detections, targets, strict=True)])
                   for name, centre, size in ORACLES}
    scale_rows = {str(scale): scores([np.concatenate([d[:, :3], d[:, 3:5] * scale], axis=1) for d in detections])
                  for scale in SIZE_SCALES}
    errors = matched_errors(detections, targets, min_score=ERROR_MIN_SCORE, max_distance=args.match_px)
    spacing = recall_by_neighbour(detections, targets, args.match_px)
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu": cpu_description(),
              "weights": args.weights, "frames": args.frames, "first_seed": args.seed, "size": args.size,
              "match_px": args.match_px, "electrodes": int(sum(len(p) for p, _ in targets)),
              "truth_swaps": oracle_rows, "size_scale": scale_rows, "matched_errors": errors,
              "matched_errors_min_score": ERROR_MIN_SCORE,
              "recall_by_nearest_neighbour": spacing,
              "seconds": round(time.perf_counter() - started, 1)}
    lines = ["# Where the electrode AP goes (synthetic frames)", "",
             (f"`{args.weights}` on {args.frames} frames of {args.size} px, seeds from {args.seed}, "
             f"{report['electrodes']} electrodes. Command: `python benchmarks/electrode_errors.py --weights {args.weights} "
             f"--frames {args.frames} --seed {args.seed}`. Detections matched one-to-one to a labelled electrode within "
             f"{args.match_px:g} px take its centre and/or size:"), "",
             "| detections | AP | AP50 | AP75 |", "|---|---|---|---|"]
    for name, row in oracle_rows.items():
        lines.append(f"| {name} | {row['ap']:.3f} | {row['ap50']:.3f} | {row['ap75']:.3f} |")
    lines += ["", "Every predicted size times a common factor:", "", "| size x | AP | AP50 | AP75 |", "|---|---|---|---|"]
    for scale, row in scale_rows.items():
        lines.append(f"| {scale} | {row['ap']:.3f} | {row['ap50']:.3f} | {row['ap75']:.3f} |")
    if errors.get("matched"):
        lines += ["", (f"Matched detections with score >= {ERROR_MIN_SCORE:g} ({errors['matched']}): centre error median "
                  f"{errors['median_px']:.2f} px, p90 {errors['p90_px']:.2f} px, mean signed error x "
                  f"{errors['bias_x_px']:+.3f} / y {errors['bias_y_px']:+.3f} px; predicted / true size median "
                  f"{errors['width_ratio_median']:.3f} (w) / {errors['height_ratio_median']:.3f} (h).")]
    lines += ["", (f"Recall within {args.match_px:g} px at any score (threshold {DETECTION_THRESHOLD}) by the distance "
                   "from each labelled electrode to its nearest labelled neighbour:"), "",
              "| nearest neighbour | electrodes | recall |", "|---|---:|---:|"]
    for row in spacing:
        span = f"{row['from']:g}-{row['to']:g} px" if row["to"] is not None else f">= {row['from']:g} px"
        lines.append(f"| {span} | {row['electrodes']} | {row['recall']:.3f} |")
    lines += ["", f"CPU: {report['cpu']}; {report['seconds']} s."]
    markdown = "\n".join(lines) + "\n"
    atomic_write_json(args.out / "electrode_errors.json", report)
    atomic_write_text(args.out / "electrode_errors.md", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
