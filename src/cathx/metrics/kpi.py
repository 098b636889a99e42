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
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from cathx.heatmap import decode_peaks, heatmap_stride
from cathx.metrics.detection import DEFAULT_MATCH_DISTANCE, penalised_error
from cathx.metrics.segmentation import batch_dice, batch_iou

DEFAULT_TAU = 2.0
DEFAULT_SCORE_THRESHOLD = 0.3


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


def detection_kpi(
    heatmap: Tensor,
    size: Tensor | None,
    electrodes: Tensor,
    valid: Tensor,
    kind: str = "mae",
    tau: float = DEFAULT_TAU,
    cap: float = DEFAULT_MATCH_DISTANCE,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    stride: int = 4,
) -> Tensor:
    """Per-sample kappa_d. heatmap: (B, 1, h, w) logits; electrodes (B, M, 2) pixels with
    valid (B, M) bool. Returns (B,) float32 on the heatmap's device."""
    if kind not in ("mae", "rmse"):
        raise ValueError(f"unknown detection KPI {kind!r}; choose from mae, rmse")
    k = max(int(electrodes.shape[1]) * 2, 16)
    detections = decode_peaks(heatmap, size, stride=stride, k=k, threshold=score_threshold, logits=True)
    points = electrodes.detach().float().cpu().numpy()
    mask = valid.detach().bool().cpu().numpy()
    errors = [penalised_error(found[:, :2], points[i][mask[i]], cap=cap, kind=kind) for i, found in enumerate(detections)]
    kpi = [error_to_kpi(e, tau) for e in errors]
    return torch.tensor(kpi, dtype=torch.float32, device=heatmap.device)


def sample_kpis(
    outputs: dict[str, Tensor],
    batch: dict[str, Tensor],
    segmentation: str = "iou",
    detection: str = "mae",
    tau: float = DEFAULT_TAU,
    cap: float = DEFAULT_MATCH_DISTANCE,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
) -> dict[str, Tensor]:
    """{"seg": (B,), "det": (B,)} KPIs for the tasks the model outputs; NaN where the sample has
    no label for that task (batch["has_mask"] / batch["has_electrodes"] false). The heatmap
    stride is read from batch["image"] (4 when the batch has no image)."""
    kpis: dict[str, Tensor] = {}
    if "mask" in outputs:
        value = segmentation_kpi(outputs["mask"], batch["mask"].to(outputs["mask"].device), segmentation)
        available = batch["has_mask"].bool().reshape(-1).to(value.device)
        kpis["seg"] = torch.where(available, value, torch.full_like(value, math.nan))
    if "heatmap" in outputs:
        stride = (heatmap_stride(tuple(batch["image"].shape[-2:]), tuple(outputs["heatmap"].shape[-2:]))
                  if "image" in batch else 4)
        value = detection_kpi(outputs["heatmap"], outputs.get("size"), batch["electrodes"], batch["electrode_valid"],
                              detection, tau, cap, score_threshold, stride=stride)
        available = batch["has_electrodes"].bool().reshape(-1).to(value.device)
        kpis["det"] = torch.where(available, value, torch.full_like(value, math.nan))
    return kpis
