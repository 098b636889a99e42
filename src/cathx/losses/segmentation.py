"""Segmentation losses per sample: BCE plus soft IoU (Eq. 8 of the paper), or soft Dice (the seed U-Net)."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor


def bce_loss(logits: Tensor, target: Tensor) -> Tensor:
    """Pixel-averaged binary cross-entropy per sample. (B, 1, H, W) -> (B,)."""
    loss = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    return loss.flatten(1).mean(dim=1)


def soft_iou_loss(logits: Tensor, target: Tensor, smooth: float = 1.0) -> Tensor:
    """1 - (sum p*y + s) / (sum p + sum y - sum p*y + s) per sample. (B, 1, H, W) -> (B,).

    ``smooth`` keeps an empty target with an empty prediction at loss 0 instead of 0/0.
    """
    prob = torch.sigmoid(logits.float()).flatten(1)
    target = target.float().flatten(1)
    intersection = (prob * target).sum(dim=1)
    union = prob.sum(dim=1) + target.sum(dim=1) - intersection
    return 1 - (intersection + smooth) / (union + smooth)


def segmentation_loss(logits: Tensor, target: Tensor) -> Tensor:
    """BCE + soft IoU per sample. (B, 1, H, W) -> (B,)."""
    return bce_loss(logits, target) + soft_iou_loss(logits, target)


def soft_dice_loss(logits: Tensor, target: Tensor, smooth: float = 1.0) -> Tensor:
    """1 - (2 sum p*y + s) / (sum p + sum y + s) per sample, from MONAI's DiceLoss. (B, 1, H, W) -> (B,)."""
    return _monai_dice(smooth)(logits.float(), target.float()).flatten(1).mean(dim=1)


@functools.cache
def _monai_dice(smooth: float):
    # built once per smoothing value: this runs every training step; MONAI is imported on first use
    from monai.losses import DiceLoss

    return DiceLoss(sigmoid=True, reduction="none", smooth_nr=smooth, smooth_dr=smooth)
