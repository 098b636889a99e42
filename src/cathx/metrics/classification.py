"""Multi-label classification metrics of the chest line/tube classifier (RANZCR CLiP labels).

The competition's metric is the mean column-wise ROC AUC over the 11 labels; a label without both
classes in a split has no AUC and is left out of the mean. The AUC itself is torchmetrics'
``binary_auroc`` (trapezoids under the ROC curve, so tied scores count one half).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cathx.data.chest.ranzcr import LABELS
from cathx.fileio import atomic_write_json, atomic_write_text, csv_text


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of binary ``labels`` (N,) against ``scores`` (N,); nan unless both classes occur.

    Equals the probability that a random positive outscores a random negative, ties counting 1/2.
    """
    from torchmetrics.functional.classification import binary_auroc

    labels = np.asarray(labels).astype(bool).reshape(-1)
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):  # torchmetrics would warn and answer 0
        return float("nan")
    # float64, so that scores a float32 would round together stay distinct. torchmetrics takes
    # scores outside [0, 1] for logits and squashes them with a sigmoid, which ties logits past ~37;
    # the AUC depends on the order alone, so such scores are mapped linearly onto [0, 1] instead.
    values = np.asarray(scores, np.float64).reshape(-1)
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        values = (values - low) / ((high - low) or 1.0)
    return float(binary_auroc(torch.as_tensor(values), torch.as_tensor(labels, dtype=torch.long)))


def columnwise_auc(labels: np.ndarray, probs: np.ndarray) -> tuple[float, dict[str, float | None]]:
    """Mean column-wise AUC and per-label AUC (None where a label lacks positives or negatives).

    labels, probs: (N, 11) in LABELS order.
    """
    per_label: dict[str, float | None] = {}
    for j, name in enumerate(LABELS):
        auc = roc_auc(labels[:, j], probs[:, j])
        per_label[name] = None if math.isnan(auc) else auc
    defined = [v for v in per_label.values() if v is not None]
    return (float(np.mean(defined)) if defined else float("nan")), per_label


def auc_markdown(mean: float, per_label: dict[str, float | None], positives: dict[str, int], n: int) -> str:
    """Markdown table of per-label AUC with the mean as the last row."""
    lines = ["| label | AUC | positives |", "|---|---:|---:|"]
    for name, auc in per_label.items():
        lines.append(f"| {name} | {'n/a' if auc is None else f'{auc:.3f}'} | {positives[name]} |")
    lines.append(f"| **mean (column-wise)** | **{mean:.3f}** | {n} studies |")
    return "\n".join(lines) + "\n"


def write_auc_report(out: Path | str, labels: np.ndarray, probs: np.ndarray, extra: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
    """Write metrics.json, metrics.csv and metrics.md (mean AUC and per-label AUC) into ``out``.

    labels, probs: (N, 11) in LABELS order. Returns the report written to metrics.json.
    """
    out = Path(out)
    mean, per_label = columnwise_auc(labels, probs)
    positives = {name: int(labels[:, j].sum()) for j, name in enumerate(LABELS)}
    report = {"mean_auc": mean, "studies": int(len(labels)), "per_label_auc": per_label,
              "positives": positives, **(extra or {})}
    atomic_write_json(out / "metrics.json", report)
    rows = [[name, "" if per_label[name] is None else f"{per_label[name]:.4f}", positives[name]] for name in LABELS]
    rows.append(["mean", f"{mean:.4f}", int(labels.any(axis=1).sum())])
    atomic_write_text(out / "metrics.csv", csv_text(["label", "auc", "positives"], rows))
    atomic_write_text(out / "metrics.md", auc_markdown(mean, per_label, positives, len(labels)))
    return report
