"""Detection losses: CenterNet focal loss on Gaussian centre heatmaps and L1 on box sizes.

Every function returns one value per sample, shape (B,), normalised by that sample's number of
electrodes (at least 1), so per-sample weighting downstream sees comparable magnitudes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def centernet_focal_loss(
    logits: Tensor, target: Tensor, positive: Tensor, alpha: float = 2.0, beta: float = 4.0
) -> Tensor:
    """Penalty-reduced focal loss (CenterNet, Law and Deng 2018), per sample.

    logits: (B, 1, h, w) heatmap logits; target: (B, 1, h, w) Gaussians in [0, 1];
    positive: (B, 1, h, w) bool centre cells.
    loss_b = -1/max(N_b, 1) * [ sum_pos (1-p)^alpha log p + sum_neg (1-y)^beta p^alpha log(1-p) ]
    Computed from log-sigmoid, so it is finite for any logits.
    """
    logits = logits.float()
    prob = torch.sigmoid(logits)
    log_p = F.logsigmoid(logits)
    log_not_p = F.logsigmoid(-logits)
    positive = positive.bool()
    pos_term = (1 - prob) ** alpha * log_p
    neg_term = (1 - target) ** beta * prob**alpha * log_not_p
    per_cell = torch.where(positive, pos_term, neg_term)
    count = positive.flatten(1).sum(dim=1).clamp(min=1).float()
    return -per_cell.flatten(1).sum(dim=1) / count


def size_l1_loss(pred: Tensor, target: Tensor, positive: Tensor) -> Tensor:
    """Mean absolute error of (w, h) in pixels over the centre cells, per sample (0 if none).

    pred, target: (B, 2, h, w); positive: (B, 1, h, w) bool.
    """
    mask = positive.float()
    error = (pred.float() - target.float()).abs() * mask
    count = mask.flatten(1).sum(dim=1).clamp(min=1)
    return error.flatten(1).sum(dim=1) / (2 * count)
