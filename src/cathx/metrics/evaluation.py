"""Accumulator over a validation set: per-image rows and the dataset summary."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cathx.metrics.detection import DEFAULT_MATCH_DISTANCE, coco_ap, match_points
from cathx.metrics.segmentation import cldice, dice, iou

RECALL_RADII = (3.0, 5.0)


class Evaluator:
    """Collects per-image results; ``summary()`` gives the dataset metrics.

    Segmentation: mean J (per-image IoU averaged), mean Dice, mean clDice over images with a mask.
    Detection: COCO AP@[.5:.95], AP50, AP75 from all detections passed in (pass them with a low
    score threshold, e.g. 0.05); MAE and recall@3/5 px from those with score >= score_threshold
    (see cathx.metrics.detection for the matching). Ground-truth sizes <= 0 are replaced by
    ``default_size`` pixels so that sources without sizes still get boxes.
    """

    def __init__(self, score_threshold: float = 0.3, match_distance: float = DEFAULT_MATCH_DISTANCE,
                 default_size: float = 4.0) -> None:
        self.score_threshold = score_threshold
        self.match_distance = match_distance
        self.default_size = default_size
        self.rows: list[dict[str, Any]] = []
        self._targets: list[tuple[np.ndarray, np.ndarray]] = []
        self._detections: list[np.ndarray] = []
        self._distances: list[np.ndarray] = []

    def update(
        self,
        image_id: str | int,
        pred_mask: np.ndarray | None = None,
        target_mask: np.ndarray | None = None,
        detections: np.ndarray | None = None,
        target_points: np.ndarray | None = None,
        target_sizes: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """Add one image; returns its row (NaN for metrics it has no label for).

        pred_mask, target_mask: (H, W) bool; detections: (K, 5) [x, y, score, w, h];
        target_points: (G, 2); target_sizes: (G, 2) or None.
        """
        row: dict[str, Any] = {"image_id": image_id}
        if pred_mask is not None and target_mask is not None:
            row.update(iou=iou(pred_mask, target_mask), dice=dice(pred_mask, target_mask),
                       cldice=cldice(pred_mask, target_mask))
        else:
            row.update(iou=math.nan, dice=math.nan, cldice=math.nan)
        if detections is not None and target_points is not None:
            points = np.asarray(target_points, np.float64).reshape(-1, 2)
            sizes = (np.full_like(points, self.default_size) if target_sizes is None
                     else np.asarray(target_sizes, np.float64).reshape(-1, 2).copy())
            sizes[sizes <= 0] = self.default_size
            found = np.asarray(detections, np.float64).reshape(-1, 5)
            confident = found[found[:, 2] >= self.score_threshold]
            _, _, distance = match_points(confident[:, :2], points, self.match_distance)
            self._targets.append((points, sizes))
            self._detections.append(found)
            self._distances.append(distance)
            row.update(
                n_electrodes=len(points),
                n_detected=len(confident),
                n_matched=len(distance),
                mae=float(distance.mean()) if len(distance) else math.nan,
                **{f"recall{int(r)}": (float((distance <= r).sum() / len(points)) if len(points) else math.nan)
                   for r in RECALL_RADII},
            )
        else:
            row.update(n_electrodes=0, n_detected=0, n_matched=0, mae=math.nan,
                       **{f"recall{int(r)}": math.nan for r in RECALL_RADII})
        self.rows.append(row)
        return row

    def summary(self) -> dict[str, Any]:
        """Dataset metrics (NaN where no image had the label); also "pr_curve" at IoU 0.5."""

        def mean_of(key: str) -> float:
            values = [r[key] for r in self.rows if not math.isnan(r[key])]
            return float(np.mean(values)) if values else math.nan

        result: dict[str, Any] = {
            "images": len(self.rows),
            "mean_j": mean_of("iou"),
            "dice": mean_of("dice"),
            "cldice": mean_of("cldice"),
        }
        if self._targets:
            ap = coco_ap(self._targets, self._detections)
            distances = np.concatenate(self._distances) if self._distances else np.zeros(0)
            total = sum(len(points) for points, _ in self._targets)
            result.update(
                ap=ap["ap"], ap50=ap["ap50"], ap75=ap["ap75"],
                mae=float(distances.mean()) if len(distances) else math.nan,
                **{f"recall{int(r)}": (float((distances <= r).sum() / total) if total else math.nan) for r in RECALL_RADII},
                electrodes=int(total),
                pr_curve={"recall": ap["recall"].tolist(), "precision": ap["precision50"].tolist()},
            )
        else:
            result.update(ap=math.nan, ap50=math.nan, ap75=math.nan, mae=math.nan,
                          **{f"recall{int(r)}": math.nan for r in RECALL_RADII}, electrodes=0,
                          pr_curve={"recall": [], "precision": []})
        return result
