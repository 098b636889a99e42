"""Losses of CathMTL: per-task, per-sample, unweighted (weighting: cathx.training.weighting)."""

from cathx.losses.detection import centernet_focal_loss, size_l1_loss
from cathx.losses.multitask import SEGMENTATION_LOSSES, LossParts, MultiTaskCriterion, task_availability
from cathx.losses.segmentation import bce_loss, segmentation_loss, soft_dice_loss, soft_iou_loss

__all__ = [
    "SEGMENTATION_LOSSES",
    "LossParts",
    "MultiTaskCriterion",
    "bce_loss",
    "centernet_focal_loss",
    "segmentation_loss",
    "size_l1_loss",
    "soft_dice_loss",
    "soft_iou_loss",
    "task_availability",
]
