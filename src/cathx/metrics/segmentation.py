"""Segmentation metrics on binary masks: IoU (region similarity J), Dice, clDice.

Convention for an image whose prediction and ground truth are both empty: IoU = Dice = clDice
= 1 (perfect agreement, as in the DAVIS benchmark); one empty and the other not: 0.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.morphology import skeletonize
from torch import Tensor


def iou(pred: np.ndarray, target: np.ndarray) -> float:
    """|P & T| / |P | T| of two boolean masks (H, W)."""
    pred, target = np.asarray(pred, bool), np.asarray(target, bool)
    union = np.logical_or(pred, target).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(pred, target).sum() / union)


def dice(pred: np.ndarray, target: np.ndarray) -> float:
    """2 |P & T| / (|P| + |T|) of two boolean masks (H, W)."""
    pred, target = np.asarray(pred, bool), np.asarray(target, bool)
    total = pred.sum() + target.sum()
    if total == 0:
        return 1.0
    return float(2 * np.logical_and(pred, target).sum() / total)


def cldice(pred: np.ndarray, target: np.ndarray) -> float:
    """Centreline Dice (Shit et al. 2021) on hard masks (H, W).

    Tprec = |skel(P) & T| / |skel(P)| and Tsens = |skel(T) & P| / |skel(T)| with skimage's
    skeletonize; clDice = 2 Tprec Tsens / (Tprec + Tsens).
    """
    pred, target = np.asarray(pred, bool), np.asarray(target, bool)
    if not pred.any() and not target.any():
        return 1.0
    if not pred.any() or not target.any():
        return 0.0
    skel_pred, skel_target = skeletonize(pred), skeletonize(target)
    precision = np.logical_and(skel_pred, target).sum() / max(skel_pred.sum(), 1)
    sensitivity = np.logical_and(skel_target, pred).sum() / max(skel_target.sum(), 1)
    if precision + sensitivity == 0:
        return 0.0
    return float(2 * precision * sensitivity / (precision + sensitivity))


def mean_j(ious: list[float] | np.ndarray) -> float:
    """Mean region similarity: per-image IoU averaged over images (DAVIS), NaN if no image."""
    values = np.asarray(ious, np.float64)
    return float(values.mean()) if values.size else float("nan")


def batch_iou(pred: Tensor, target: Tensor) -> Tensor:
    """Per-sample IoU of boolean masks (B, 1, H, W) -> (B,) float; both empty -> 1."""
    pred, target = pred.bool().flatten(1), target.bool().flatten(1)
    intersection = (pred & target).sum(dim=1).float()
    union = (pred | target).sum(dim=1).float()
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))


def batch_dice(pred: Tensor, target: Tensor) -> Tensor:
    """Per-sample Dice of boolean masks (B, 1, H, W) -> (B,) float; both empty -> 1."""
    pred, target = pred.bool().flatten(1), target.bool().flatten(1)
    intersection = (pred & target).sum(dim=1).float()
    total = (pred.sum(dim=1) + target.sum(dim=1)).float()
    return torch.where(total > 0, 2 * intersection / total.clamp(min=1), torch.ones_like(total))


def centreline_counts(predicted: np.ndarray, truth: np.ndarray, tolerance: float,
                      skeletonised: bool = False) -> tuple[int, int, int, int]:
    """Tolerant centreline matching of a predicted line mask against annotated centrelines.

    predicted: (H, W) bool mask, skeletonised here (``skeletonised``: it already is a skeleton, so
    a caller matching one mask against several truths thins it once); truth: (H, W) bool
    centreline pixels (1 px wide). A predicted skeleton pixel is matched when within ``tolerance``
    px (Euclidean) of a true pixel, and a true pixel when within ``tolerance`` of the predicted
    skeleton. Returns (matched predicted, predicted, matched true, true) pixel counts, so images
    can be pooled before precision = matched predicted / predicted and recall = matched true /
    true are taken.
    """
    import cv2

    pred = predicted.astype(bool) if skeletonised else skeletonize(predicted.astype(bool))
    true = truth.astype(bool)
    if not pred.any() or not true.any():
        return 0, int(pred.sum()), 0, int(true.sum())
    to_true = cv2.distanceTransform(np.where(true, 0, 255).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    to_pred = cv2.distanceTransform(np.where(pred, 0, 255).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return (int((to_true[pred] <= tolerance).sum()), int(pred.sum()),
            int((to_pred[true] <= tolerance).sum()), int(true.sum()))


def centreline_f1(counts: np.ndarray | tuple[int, int, int, int]) -> tuple[float, float, float]:
    """(precision, recall, F1) from pooled ``centreline_counts``; 0 where nothing was predicted or true."""
    matched_pred, pred, matched_true, true = (int(c) for c in counts)
    precision = matched_pred / pred if pred else 0.0
    recall = matched_true / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1
