"""Metrics: pure functions (hand-checked in tests) and an accumulator for validation."""

from cathx.metrics.detection import (
    DEFAULT_MATCH_DISTANCE,
    boxes_from_centres,
    coco_ap,
    localisation_errors,
    match_points,
    penalised_error,
)
from cathx.metrics.evaluation import Evaluator
from cathx.metrics.kpi import detection_kpi, error_to_kpi, sample_kpis, segmentation_kpi
from cathx.metrics.segmentation import batch_dice, batch_iou, cldice, dice, iou, mean_j

__all__ = [
    "DEFAULT_MATCH_DISTANCE",
    "Evaluator",
    "batch_dice",
    "batch_iou",
    "boxes_from_centres",
    "cldice",
    "coco_ap",
    "detection_kpi",
    "dice",
    "error_to_kpi",
    "iou",
    "localisation_errors",
    "match_points",
    "mean_j",
    "penalised_error",
    "sample_kpis",
    "segmentation_kpi",
]
