"""Per-sample KPIs kappa in [0, 1] for the dynamic resource prioritization (paper Eq. 5).

kappa_s: IoU (or Dice) of the thresholded mask (logit > 0, i.e. probability > 0.5).
kappa_d: inverse localisation error mapped into (0, 1]:
    kappa_d = 1 / (1 + E / tau),
    E = penalised_error(...) of cathx.metrics.detection: Hungarian matching of the decoded peaks
        (score >= score_threshold) to the ground-truth centres within ``cap`` pixels, each matched
        pair adding its distance, each missed or spurious electrode adding ``cap``; the mean
        ("mae") or root mean square ("rmse") of those terms. E = 0 when the image has no
        electrode and none is predicted.
    With tau = 2 px and cap = 10 px: E = 0 -> 1, E = 2 px -> 0.5, all missed -> 1/6. kappa_d
    never reaches 0, so the task weight 1 / kappa stays bounded.
Samples without a label for the task get NaN (use the availability mask before averaging).

KPI of a set (the paper's kappa_d = MAE(S_d)^-1, kappa_s = IoU(S_s)): every KPI here is
f(num / den) of per-sample sums, so ``*_kpi_stats`` return (B, 2) [num, den] and the KPI of a set
pools them before f (``pooled_kpi``): IoU: (|P|T| - |P&T|, |P|T|), f(r) = 1 - r; Dice:
(|P| + |T| - 2|P&T|, |P| + |T|), f = 1 - r; MAE: (sum of the error terms, their number),
f(r) = 1 / (1 + r / tau); RMSE: (sum of squared terms, number), f(r) = 1 / (1 + sqrt(r) / tau);
a loss-based KPI: (loss, 1), f(r) = exp(-r). den = 0 (nothing to measure) gives r = 0, a perfect KPI,
the convention of the per-sample functions. Errors 0 and 10 px on two one-electrode images pool
to MAE 5 px, kappa_d = 1 / (1 + 5 / 2) = 0.286, while the mean of the per-sample KPIs is 0.583.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from cathx.heatmap import decode_peaks, heatmap_stride
from cathx.metrics.detection import DEFAULT_MATCH_DISTANCE, match_points
from cathx.metrics.segmentation import batch_dice, batch_iou

DEFAULT_TAU = 2.0
DEFAULT_SCORE_THRESHOLD = 0.3
# kinds of KPI statistics (kpi_from_stats); "loss" is the loss-based ablation, exp(-loss)
KPI_KINDS = ("iou", "dice", "mae", "rmse", "loss")


def error_to_kpi(error: float | Tensor | np.ndarray, tau: float = DEFAULT_TAU):
    """kappa = 1 / (1 + error / tau)."""
    return 1.0 / (1.0 + error / tau)


def segmentation_kpi(mask_logits: Tensor, mask: Tensor, kind: str = "iou") -> Tensor:
    """Per-sample IoU or Dice of (logits > 0) vs mask > 0.5. (B, 1, H, W) -> (B,)."""
    pred = mask_logits.detach() > 0
    target = mask.detach() > 0.5
    if kind == "iou":
        return batch_iou(pred, target)
    if kind == "dice":
        return batch_dice(pred, target)
    raise ValueError(f"unknown segmentation KPI {kind!r}; choose from iou, dice")


def detection_kpi(heatmap: Tensor, size: Tensor | None, electrodes: Tensor, valid: Tensor, kind: str = "mae",
                  tau: float = DEFAULT_TAU, **matching) -> Tensor:
    """Per-sample kappa_d. heatmap: (B, 1, h, w) logits; electrodes (B, M, 2) pixels with
    valid (B, M) bool; matching: ``cap``, ``score_threshold``, ``stride`` of detection_kpi_stats.
    Returns (B,) float32 on the heatmap's device: the KPI of each sample's error terms."""
    return kpi_from_stats(detection_kpi_stats(heatmap, size, electrodes, valid, kind, **matching), kind, tau)


def sample_kpis(outputs: dict[str, Tensor], batch: dict[str, Tensor], segmentation: str = "iou",
                detection: str = "mae", tau: float = DEFAULT_TAU, **matching) -> dict[str, Tensor]:
    """{"segmentation": (B,), "detection": (B,)} KPIs for the tasks the model outputs; NaN where the sample has
    no label for that task (batch["has_mask"] / batch["has_electrodes"] false). The heatmap
    stride is read from batch["image"] (4 when the batch has no image); matching: ``cap`` and
    ``score_threshold`` of sample_kpi_stats. The KPI of each sample's statistics (one definition)."""
    kinds = {"segmentation": segmentation, "detection": detection}
    stats = sample_kpi_stats(outputs, batch, segmentation, detection, **matching)
    return {task: kpi_from_stats(value, kinds[task], tau) for task, value in stats.items()}


# ----------------------------------------------------------------------------- KPI of a set


def kpi_from_stats(stats: Tensor, kind: str, tau: float = DEFAULT_TAU) -> Tensor:
    """KPI of each row of ``stats`` (..., 2) [num, den]: f(num / den), r = 0 where den = 0, NaN
    where the row is NaN (no label). -> (...)."""
    if kind not in KPI_KINDS:
        raise ValueError(f"unknown KPI kind {kind!r}; choose from {', '.join(KPI_KINDS)}")
    num, den = stats[..., 0].float(), stats[..., 1].float()
    ratio = torch.where(den > 0, num / den.clamp(min=1e-12), torch.zeros_like(num))
    ratio = torch.where(torch.isnan(num) | torch.isnan(den), torch.full_like(ratio, math.nan), ratio)  # no label
    if kind in ("iou", "dice"):
        return 1.0 - ratio
    if kind == "mae":
        return error_to_kpi(ratio, tau)
    if kind == "rmse":
        return error_to_kpi(ratio.clamp(min=0).sqrt(), tau)
    return torch.exp(-ratio.clamp(min=0))


def pooled_kpi(stats: Tensor, kind: str, tau: float = DEFAULT_TAU) -> Tensor:
    """KPI of the set of samples (N, 2): the sums pooled before f (paper Eq. 5). Scalar tensor."""
    return kpi_from_stats(stats.float().sum(dim=0), kind, tau)


def segmentation_kpi_stats(mask_logits: Tensor, mask: Tensor, kind: str = "iou") -> Tensor:
    """Per-sample [num, den] of IoU or Dice of (logits > 0) vs mask > 0.5. (B, 1, H, W) -> (B, 2)."""
    pred = (mask_logits.detach() > 0).flatten(1)
    target = (mask.detach() > 0.5).flatten(1)
    intersection = (pred & target).sum(dim=1).float()
    if kind == "iou":
        union = (pred | target).sum(dim=1).float()
        return torch.stack([union - intersection, union], dim=1)
    if kind == "dice":
        total = (pred.sum(dim=1) + target.sum(dim=1)).float()
        return torch.stack([total - 2 * intersection, total], dim=1)
    raise ValueError(f"unknown segmentation KPI {kind!r}; choose from iou, dice")


def error_terms(pred: np.ndarray, target: np.ndarray, cap: float = DEFAULT_MATCH_DISTANCE,
                kind: str = "mae") -> tuple[float, int]:
    """(sum, count) of one image's localisation error terms (see penalised_error, whose value is
    sum / count for "mae" and sqrt(sum / count) for "rmse", where the terms are squared)."""
    if kind not in ("mae", "rmse"):
        raise ValueError(f"unknown detection KPI {kind!r}; choose from mae, rmse")
    pred = np.asarray(pred, np.float64).reshape(-1, 2)
    target = np.asarray(target, np.float64).reshape(-1, 2)
    _, _, distance = match_points(pred, target, cap)
    misses = len(pred) + len(target) - 2 * len(distance)
    power = 1 if kind == "mae" else 2
    return float((distance**power).sum() + misses * cap**power), len(distance) + misses


def detection_kpi_stats(
    heatmap: Tensor,
    size: Tensor | None,
    electrodes: Tensor,
    valid: Tensor,
    kind: str = "mae",
    cap: float = DEFAULT_MATCH_DISTANCE,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    stride: int = 4,
) -> Tensor:
    """Per-sample [sum of error terms, number of terms] (B, 2) float32 of the decoded peaks
    (as detection_kpi; kpi_from_stats of a row gives that sample's kappa_d)."""
    if kind not in ("mae", "rmse"):
        raise ValueError(f"unknown detection KPI {kind!r}; choose from mae, rmse")
    k = max(int(electrodes.shape[1]) * 2, 16)
    detections = decode_peaks(heatmap, size, stride=stride, k=k, threshold=score_threshold, logits=True)
    points = electrodes.detach().float().cpu().numpy()
    mask = valid.detach().bool().cpu().numpy()
    rows = [error_terms(found[:, :2], points[i][mask[i]], cap=cap, kind=kind) for i, found in enumerate(detections)]
    return torch.tensor(rows, dtype=torch.float32, device=heatmap.device).reshape(-1, 2)


def sample_kpi_stats(
    outputs: dict[str, Tensor],
    batch: dict[str, Tensor],
    segmentation: str = "iou",
    detection: str = "mae",
    cap: float = DEFAULT_MATCH_DISTANCE,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
) -> dict[str, Tensor]:
    """{"segmentation": (B, 2), "detection": (B, 2)} KPI statistics as sample_kpis measures them; NaN rows where
    the sample has no label for the task."""
    stats: dict[str, Tensor] = {}
    if "mask" in outputs:
        value = segmentation_kpi_stats(outputs["mask"], batch["mask"].to(outputs["mask"].device), segmentation)
        available = batch["has_mask"].bool().reshape(-1, 1).to(value.device)
        stats["segmentation"] = torch.where(available, value, torch.full_like(value, math.nan))
    if "heatmap" in outputs:
        stride = (heatmap_stride(tuple(batch["image"].shape[-2:]), tuple(outputs["heatmap"].shape[-2:]))
                  if "image" in batch else 4)
        value = detection_kpi_stats(outputs["heatmap"], outputs.get("size"), batch["electrodes"],
                                    batch["electrode_valid"], detection, cap, score_threshold, stride=stride)
        available = batch["has_electrodes"].bool().reshape(-1, 1).to(value.device)
        stats["detection"] = torch.where(available, value, torch.full_like(value, math.nan))
    return stats
