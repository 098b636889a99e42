"""Electrode detection metrics: COCO AP on boxes from centre and size, and localisation error.

Localisation (per image): predictions with score >= the score threshold are matched one-to-one
to ground-truth centres by the Hungarian algorithm on Euclidean distance (scipy
linear_sum_assignment); pairs farther than ``match_distance`` pixels are discarded. Then
    MAE      = mean distance of the kept pairs, pooled over all pairs of all images (pixels),
    recall@r = (number of ground-truth electrodes whose pair lies within r px) / (number of
               ground-truth electrodes).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

DEFAULT_MATCH_DISTANCE = 10.0


def match_points(
    pred: np.ndarray, target: np.ndarray, max_distance: float = DEFAULT_MATCH_DISTANCE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one matching minimising the total distance; pairs beyond max_distance dropped.

    pred: (P, 2) and target: (G, 2) points (x, y) in pixels.
    Returns (pred_index (n,), target_index (n,), distance (n,)).
    """
    pred = np.asarray(pred, np.float64).reshape(-1, 2)
    target = np.asarray(target, np.float64).reshape(-1, 2)
    empty = np.zeros(0, np.int64)
    if len(pred) == 0 or len(target) == 0:
        return empty, empty, np.zeros(0)
    distance = np.linalg.norm(pred[:, None, :] - target[None, :, :], axis=-1)
    # Forbidden pairs get a cost no allowed assignment can reach, then are dropped.
    cost = np.where(distance <= max_distance, distance, max_distance * (len(pred) + len(target)) + 1.0)
    rows, cols = linear_sum_assignment(cost)
    keep = distance[rows, cols] <= max_distance
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64), distance[rows, cols][keep]


def localisation_errors(pred: np.ndarray, target: np.ndarray, max_distance: float = DEFAULT_MATCH_DISTANCE) -> np.ndarray:
    """Distances (n,) in pixels of the matched pairs of one image."""
    return match_points(pred, target, max_distance)[2]


def penalised_error(
    pred: np.ndarray, target: np.ndarray, cap: float = DEFAULT_MATCH_DISTANCE, kind: str = "mae"
) -> float:
    """Localisation error of one image where every miss counts: matched pairs (gate ``cap``)
    add their distance, each unmatched ground truth and each unmatched prediction adds ``cap``.
    kind "mae": mean of those terms; "rmse": root of their mean square. 0 if both are empty."""
    pred = np.asarray(pred, np.float64).reshape(-1, 2)
    target = np.asarray(target, np.float64).reshape(-1, 2)
    _, _, distance = match_points(pred, target, cap)
    misses = len(pred) + len(target) - 2 * len(distance)
    terms = len(distance) + misses
    if terms == 0:
        return 0.0
    if kind == "mae":
        return float((distance.sum() + misses * cap) / terms)
    if kind == "rmse":
        return float(np.sqrt(((distance**2).sum() + misses * cap**2) / terms))
    raise ValueError(f"unknown error kind {kind!r}; choose from mae, rmse")


def boxes_from_centres(points: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """COCO boxes (N, 4) [x_min, y_min, w, h] from centres (N, 2) and sizes (N, 2) (w, h)."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    return np.concatenate([points - sizes / 2, sizes], axis=1)


def coco_ap(
    targets: Sequence[tuple[np.ndarray, np.ndarray]],
    detections: Sequence[np.ndarray],
    max_detections: int = 100,
) -> dict[str, object]:
    """Electrode AP with pycocotools' COCOeval (bbox), one category, all areas.

    targets: per image (points (G, 2), sizes (G, 2)) in pixels.
    detections: per image (K, 5) [x, y, score, w, h] in pixels.
    Returns {"ap": AP@[.50:.95], "ap50", "ap75", "recall": (101,) recall thresholds,
    "precision50": (101,) precision at IoU 0.5, "scores50": (101,) score at each recall}.
    AP is NaN when there is no ground-truth electrode, 0 when there is no detection.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if len(targets) != len(detections):
        raise ValueError(f"{len(targets)} targets but {len(detections)} detection lists")
    recall = np.linspace(0, 1, 101)
    nan_curve = np.full(101, np.nan)
    images, annotations, results = [], [], []
    for image_id, ((points, sizes), found) in enumerate(zip(targets, detections, strict=True), start=1):
        images.append({"id": image_id})
        for box in boxes_from_centres(points, sizes):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                                "bbox": box.tolist(), "area": float(box[2] * box[3]), "iscrowd": 0})
        found = np.asarray(found, np.float64).reshape(-1, 5)
        for box, score in zip(boxes_from_centres(found[:, :2], found[:, 3:5]), found[:, 2], strict=True):
            results.append({"image_id": image_id, "category_id": 1, "bbox": box.tolist(), "score": float(score)})
    if not annotations:
        return {"ap": float("nan"), "ap50": float("nan"), "ap75": float("nan"), "recall": recall,
                "precision50": nan_curve, "scores50": nan_curve}
    if not results:
        return {"ap": 0.0, "ap50": 0.0, "ap75": 0.0, "recall": recall, "precision50": np.zeros(101),
                "scores50": np.zeros(101)}
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO()
        ground_truth.dataset = {"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "electrode"}]}
        ground_truth.createIndex()
        predicted = ground_truth.loadRes(results)
        evaluator = COCOeval(ground_truth, predicted, "bbox")
        evaluator.params.maxDets = [1, 10, max_detections]
        evaluator.params.areaRng = [[0, 1e10]]
        evaluator.params.areaRngLbl = ["all"]
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, 0, 0, -1]  # (T IoU thresholds, 101 recalls)
    scores = evaluator.eval["scores"][:, :, 0, 0, -1]
    thresholds = evaluator.params.iouThrs

    def mean_valid(values: np.ndarray) -> float:
        valid = values[values > -1]
        return float(valid.mean()) if valid.size else 0.0

    at50 = int(np.argmin(np.abs(thresholds - 0.5)))
    at75 = int(np.argmin(np.abs(thresholds - 0.75)))
    return {
        "ap": mean_valid(precision),
        "ap50": mean_valid(precision[at50]),
        "ap75": mean_valid(precision[at75]),
        "recall": recall,
        "precision50": np.where(precision[at50] > -1, precision[at50], 0.0),
        "scores50": np.where(scores[at50] > -1, scores[at50], 0.0),
    }
