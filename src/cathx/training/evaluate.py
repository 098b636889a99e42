"""Evaluate weights on a dataset split: metrics.json, per-image CSV, a markdown summary and plots.

Metrics come from cathx.metrics.Evaluator: mean J (per-image IoU averaged), Dice, clDice, COCO
electrode AP@[.50:.95] and AP50 (pycocotools, boxes from centre and size), localisation MAE and
recall within 3 and 5 px. Images are resized to the model's training resolution
(cathx.checkpoint.trained_input_size, as `cathx predict`; ``size`` overrides it); metrics are in
pixels of that resolution.
"""

from __future__ import annotations

import csv
import heapq
import io
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cathx.errors import CathxError
from cathx.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
from cathx.structures import Sample

log = logging.getLogger(__name__)

WORST_CASES = 6
DETECTION_THRESHOLD = 0.05  # low, so AP sees the whole precision-recall curve
SUMMARY_KEYS = ("mean_j", "dice", "cldice", "ap", "ap50", "ap75", "mae", "recall3", "recall5")


class _RecordingReader(Sequence[Sample]):
    """Passes samples through and remembers each one's name (for the per-image CSV)."""

    def __init__(self, reader: Sequence[Sample]) -> None:
        self.reader = reader
        self.names: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> Sample:  # type: ignore[override]
        sample = self.reader[index]
        meta = sample.meta or {}
        name = meta.get("image_id") or meta.get("id")
        if name is None:
            source = str(meta.get("source") or meta.get("path") or "")
            name = Path(source).name if ("/" in source or "." in source) else f"{index:05d}"
        self.names[index] = str(name)
        return sample


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@torch.no_grad()
def evaluate(weights: Path | str, data: Path | str | None, out: Path | str, split: str | None = "test",
             batch_size: int = 8, size: int | None = None, score_threshold: float = 0.3,
             reader: Sequence[Sample] | None = None, plots: bool = True, device: str = "cpu",
             progress: Callable[[int, int], None] | None = None, tta: bool = False,
             precision: str = "auto") -> dict[str, Any]:
    """Run the model in ``weights`` over ``data``'s ``split`` and write the reports into ``out``.

    Returns the summary dict (mean_j, dice, cldice, ap, ap50, ap75, mae, recall3, recall5, images,
    electrodes, seconds). ``reader`` (a Sequence[Sample]) replaces ``data`` when given.
    progress: called as ``progress(images_done, images)`` after each batch. tta: average the mask
    over the frame and its mirror image (cathx.models.tta.FlipAverage). precision: "auto" (bf16 on
    a CPU that computes in bfloat16, else fp32), "fp32" or "bf16" (``cathx.system.inference_precision``).
    """
    import time

    from torch.utils.data import DataLoader

    from cathx.checkpoint import load_model, read_checkpoint, trained_input_size
    from cathx.data.datasets import SampleDataset
    from cathx.data.transforms import build_transforms
    from cathx.heatmap import decode_peaks
    from cathx.metrics import Evaluator

    weights, out = Path(weights), Path(out)
    from cathx.models.precision import resolve_precision, with_precision

    precision = resolve_precision(precision, device)
    model, model_cfg = load_model(weights)
    model = with_precision(model, precision, device)
    if tta:
        from cathx.models.tta import FlipAverage

        model = FlipAverage(model).eval()
    model = model.to(device)
    if reader is None:
        if data is None:
            raise CathxError("evaluate: give a dataset path (--data)")
        from cathx.data.formats import open_dataset

        reader = open_dataset(data, split=split)
    if len(reader) == 0:
        raise CathxError(f"{data}: split {split!r} has no images")
    problems = list(getattr(reader, "problems", []))
    size = size or trained_input_size(weights, read_checkpoint(weights).get("extra"))
    recording = _RecordingReader(reader)
    dataset = SampleDataset(recording, transform=build_transforms(size, train=False))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    evaluator = Evaluator(score_threshold=score_threshold)
    worst: list[tuple[float, int, dict[str, np.ndarray]]] = []
    started = time.perf_counter()
    done = 0
    for batch in loader:
        outputs = {key: value.cpu() for key, value in model(batch["image"].to(device)).items()}
        masks = (outputs["mask"] > 0).numpy()[:, 0] if "mask" in outputs else None
        detections = (decode_peaks(outputs["heatmap"], outputs.get("size"), stride=model.output_stride, k=64,
                                   threshold=DETECTION_THRESHOLD, logits=True)
                      if "heatmap" in outputs else None)
        for row_in_batch, index in enumerate(batch["index"].tolist()):
            has_mask = bool(batch["has_mask"][row_in_batch])
            has_points = bool(batch["has_electrodes"][row_in_batch])
            valid = batch["electrode_valid"][row_in_batch].numpy()
            points = batch["electrodes"][row_in_batch].numpy()[valid]
            sizes = batch["electrode_sizes"][row_in_batch].numpy()[valid]
            target = batch["mask"][row_in_batch, 0].numpy() > 0.5
            pred = masks[row_in_batch] if masks is not None else None
            found = detections[row_in_batch] if detections is not None else None
            row = evaluator.update(
                recording.names.get(index, str(index)),
                pred_mask=pred if has_mask else None,
                target_mask=target if has_mask and pred is not None else None,
                detections=found if has_points else None,
                target_points=points if has_points and found is not None else None,
                target_sizes=sizes if has_points and found is not None else None,
            )
            if plots:
                score = row["iou"] if not math.isnan(row["iou"]) else -(row["mae"] if not math.isnan(row["mae"]) else 0)
                item = (-score, index, {"image": batch["image"][row_in_batch, 0].numpy(), "target": target,
                                        "pred": pred, "points": points,
                                        "found": None if found is None else found[found[:, 2] >= score_threshold],
                                        "name": row["image_id"], "iou": row["iou"], "mae": row["mae"]})
                if len(worst) < WORST_CASES:
                    heapq.heappush(worst, item)
                else:
                    heapq.heappushpop(worst, item)
        done += len(batch["index"])
        if progress is not None:
            progress(done, len(dataset))
    seconds = time.perf_counter() - started
    summary = evaluator.summary()
    pr_curve = summary.pop("pr_curve", {"recall": [], "precision": []})
    from cathx.data.formats.summary import skipped_count

    summary.update(seconds=seconds, split=split, weights=str(weights), size=size, encoder=model_cfg.encoder,
                   tta="flip (mask)" if tta else "none", precision=precision, skipped=skipped_count(problems), problems=problems)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "per_image.csv", evaluator.rows)
    atomic_write_json(out / "metrics.json", _finite({**summary, "pr_curve": pr_curve}))
    atomic_write_text(out / "summary.md", summary_markdown(summary))
    if plots:
        write_plots(out, pr_curve, sorted(worst, reverse=True), training_logs(weights), ap50=summary.get("ap50"))
    log.info("evaluated %d images in %.1f s: mean J %.4f, AP %.4f", summary["images"], seconds,
             summary["mean_j"], summary["ap"])
    return summary


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def summary_markdown(summary: dict[str, Any]) -> str:
    """A short markdown report of the summary metrics."""
    labels = {"mean_j": "mean J (IoU per image, averaged)", "dice": "Dice", "cldice": "clDice",
              "ap": "electrode AP@[.50:.95] (COCO)", "ap50": "electrode AP50", "ap75": "electrode AP75",
              "mae": "localisation MAE (px, matched)", "recall3": "recall within 3 px",
              "recall5": "recall within 5 px"}
    lines = [f"# Evaluation: {summary.get('split')} split", "",
             f"weights `{summary.get('weights')}` ({summary.get('encoder')}), {summary['images']} images at "
             f"{summary.get('size')} px, {summary.get('electrodes', 0)} electrodes, {summary['seconds']:.1f} s"
             + (f", test-time augmentation: {summary['tta']}" if summary.get("tta", "none") != "none" else ""), "",
             "| metric | value |", "| --- | --- |"]
    lines += [f"| {labels[k]} | {_fmt(summary.get(k, math.nan))} |" for k in SUMMARY_KEYS]
    if summary.get("problems"):
        lines += ["", f"Skipped: {summary.get('skipped', 0)} sample(s); {len(summary['problems'])} problem(s) "
                  "while reading the data, listed in metrics.json."]
    lines += ["", "Files: per_image.csv, metrics.json, pr_curve.png, worst_cases.png, training_curves.png", ""]
    return "\n".join(lines)


def training_logs(weights: Path) -> list[Path]:
    """Lightning CSV logs of the run that wrote ``weights`` (OUT/logs/<stage>/metrics.csv)."""
    for folder in (weights.parent, weights.parent.parent, weights.parent.parent.parent.parent):
        found = sorted((folder / "logs").glob("*/metrics.csv"))
        if found:
            return sorted(found, key=lambda p: p.stat().st_mtime)
    return []


def _save_figure(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def write_plots(out: Path, pr_curve: dict[str, list[float]], worst: list, logs: list[Path],
                ap50: float | None = None) -> None:
    """pr_curve.png (titled with its AP50), worst_cases.png and (when the run's logs are found)
    training_curves.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.5, 4))
    if pr_curve.get("recall"):
        axis.plot(pr_curve["recall"], pr_curve["precision"], lw=2)
    title = "electrodes, IoU 0.5" + (f": AP50 {ap50:.3f}" if ap50 is not None and ap50 == ap50 else "")
    axis.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.02))
    axis.grid(alpha=0.3)
    _save_figure(figure, out / "pr_curve.png")

    if worst:
        columns = min(3, len(worst))
        rows = math.ceil(len(worst) / columns)
        figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 4 * rows), squeeze=False)
        for axis in axes.flat:
            axis.axis("off")
        for axis, (_, _, case) in zip(axes.flat, worst, strict=False):
            overlay = np.repeat(case["image"][..., None], 3, axis=2)
            if case["pred"] is not None:
                overlay[case["pred"]] = 0.6 * overlay[case["pred"]] + 0.4 * np.array([1.0, 0.55, 0.0])
            axis.imshow(np.clip(overlay, 0, 1))
            if case["target"].any():
                axis.contour(case["target"], levels=[0.5], colors="cyan", linewidths=0.8)
            if len(case["points"]):
                axis.scatter(case["points"][:, 0], case["points"][:, 1], s=30, facecolors="none", edgecolors="lime")
            if case["found"] is not None and len(case["found"]):
                axis.scatter(case["found"][:, 0], case["found"][:, 1], s=20, marker="x", c="red")
            axis.set_title(f"{case['name']}\nJ {_fmt(case['iou'])}  MAE {_fmt(case['mae'])}", fontsize=8)
        figure.suptitle("worst cases: orange = predicted mask, cyan = truth, green o = true / red x = found electrodes",
                        fontsize=8)
        _save_figure(figure, out / "worst_cases.png")

    if logs:
        plot_training_curves(logs, out / "training_curves.png")


def plot_training_curves(logs: list[Path], path: Path) -> None:
    """Training loss and validation score per step, one line per stage."""
    import matplotlib.pyplot as plt
    import pandas as pd

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    offset = 0
    for log_path in logs:
        frame = pd.read_csv(log_path)
        stage = log_path.parent.name
        if "train/loss" in frame:
            rows = frame.dropna(subset=["train/loss"])
            left.plot(rows["step"] + offset, rows["train/loss"], lw=1, label=stage)
        for key in ("val/mean_j", "val/kpi/detection", "val/score"):
            if key in frame:
                rows = frame.dropna(subset=[key])
                right.plot(rows["step"] + offset, rows[key], marker="o", ms=3, lw=1, label=f"{stage} {key[4:]}")
        if "step" in frame and len(frame):
            offset += int(frame["step"].max()) + 1
    left.set(xlabel="step", ylabel="weighted loss", title="training loss", yscale="log")
    right.set(xlabel="step", ylabel="value", title="validation", ylim=(0, 1))
    for axis in (left, right):
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    _save_figure(figure, path)
