"""Detection losses: CenterNet focal loss on Gaussian centre heatmaps and L1 on box sizes.

Every function returns one value per sample, shape (B,), so per-sample weighting downstream can
select and weight samples. The focal loss is normalised either per image (each image's sum over
its own number of electrodes) or per batch as CenterNet does (each image's sum over the batch's
mean number of electrodes per image, so the batch mean of the values is CenterNet's loss).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# "batch": CenterNet's (and the paper's) division by the positives of the whole batch; "image": per image
FOCAL_NORMALISATIONS: tuple[str, ...] = ("batch", "image")


def centernet_focal_loss(
    logits: Tensor, target: Tensor, positive: Tensor, alpha: float = 2.0, beta: float = 4.0,
    normalisation: str = "image",
) -> Tensor:
    """Penalty-reduced focal loss (CenterNet, Law and Deng 2018), per sample.

    logits: (B, 1, h, w) heatmap logits; target: (B, 1, h, w) Gaussians in [0, 1];
    positive: (B, 1, h, w) bool centre cells. With S_b = sum_pos (1-p)^alpha log p +
    sum_neg (1-y)^beta p^alpha log(1-p) and N_b the centre cells of image b:
    "image": loss_b = -S_b / max(N_b, 1);
    "batch": loss_b = -S_b * B / max(sum_b N_b, 1), so mean_b loss_b = -sum_b S_b / max(sum_b N_b, 1),
    CenterNet's batch loss (an image without electrodes no longer counts as one positive).
    Computed from log-sigmoid, so it is finite for any logits.
    """
    if normalisation not in FOCAL_NORMALISATIONS:
        raise ValueError(f"unknown focal normalisation {normalisation!r}; choose from {', '.join(FOCAL_NORMALISATIONS)}")
    logits = logits.float()
    prob = torch.sigmoid(logits)
    log_p = F.logsigmoid(logits)
    log_not_p = F.logsigmoid(-logits)
    positive = positive.bool()
    pos_term = (1 - prob) ** alpha * log_p
    neg_term = (1 - target) ** beta * prob**alpha * log_not_p
    per_cell = torch.where(positive, pos_term, neg_term)
    counts = positive.flatten(1).sum(dim=1).float()
    if normalisation == "batch":
        count = counts.sum().clamp(min=1) / max(len(counts), 1)
    else:
        count = counts.clamp(min=1)
    return -per_cell.flatten(1).sum(dim=1) / count


def size_l1_loss(pred: Tensor, target: Tensor, positive: Tensor) -> Tensor:
    """Mean absolute error of (w, h) in pixels over the centre cells, per sample (0 if none).

    pred, target: (B, 2, h, w); positive: (B, 1, h, w) bool.
    """
    mask = positive.float()
    error = (pred.float() - target.float()).abs() * mask
    count = mask.flatten(1).sum(dim=1).clamp(min=1)
    return error.flatten(1).sum(dim=1) / (2 * count)
