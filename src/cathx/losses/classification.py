"""Losses of the chest line/tube classifier: BCE over the 11 labels, plus the seg-aided model's
auxiliary line-mask loss (BCE + soft Dice, the per-sample terms of ``cathx.losses.segmentation``)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from cathx.losses.segmentation import bce_loss, soft_dice_loss


def label_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Binary cross-entropy averaged over studies and labels. logits, labels: (B, L) -> scalar."""
    return F.binary_cross_entropy_with_logits(logits, labels)


def line_mask_loss(mask_logits: Tensor, target: Tensor, has_mask: Tensor) -> Tensor:
    """BCE + soft Dice of line masks at the decoder's stride, over annotated studies only.

    mask_logits: (B, G, h, w); target: (B, G, H, W) {0, 1}, max-pooled to (h, w) so thin lines
    survive; has_mask: (B,) bool. The Dice term is taken per (study, group) channel and averaged,
    like the BCE. Returns a scalar (0, still attached to the graph, when no study is annotated).
    """
    if not bool(has_mask.any()):
        return mask_logits.sum() * 0.0
    target = F.adaptive_max_pool2d(target, mask_logits.shape[-2:])[has_mask]
    logits = mask_logits[has_mask]
    return (bce_loss(logits, target) + soft_dice_loss(logits, target)).mean()


def classifier_losses(outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """{"cls"} and, for a model with a mask head, {"segmentation"}: the unweighted loss terms.

    outputs: the classifier's {"logits": (B, 11)[, "mask": (B, G, h, w)]}; batch: a
    ``ChestArrayDataset`` batch (labels (B, 11), mask (B, G, H, W), has_mask (B,)).
    """
    losses = {"cls": label_loss(outputs["logits"], batch["labels"])}
    if "mask" in outputs:
        losses["segmentation"] = line_mask_loss(outputs["mask"].float(), batch["mask"], batch["has_mask"])
    return losses
