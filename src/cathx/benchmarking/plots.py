"""Benchmark figures (matplotlib, Agg backend): accuracy against latency, convergence curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cathx.fileio import atomic_open


LABELS = {"mean_kpi": "mean KPI", "mean_j": "mean J", "ap": "AP", "score": "score (mean task KPI)"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120, bbox_inches="tight")
    return path


def plot_accuracy_vs_latency(
    rows: Sequence[dict[str, Any]], path: Path | str, accuracy: str = "mean_kpi", title: str = ""
) -> Path | None:
    """Scatter of summary rows: median latency (ms, x) against mean ``accuracy`` (%, y), std as error bars.

    Rows without both values are skipped; returns None when nothing is left to draw.
    """
    points = [r for r in rows if r.get("latency_ms_mean") is not None and r.get(f"{accuracy}_mean") is not None]
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for row in points:
        x, y = row["latency_ms_mean"], 100 * row[f"{accuracy}_mean"]
        ax.errorbar(x, y, yerr=100 * (row.get(f"{accuracy}_std") or 0.0), fmt="o", capsize=3)
        ax.annotate(row["variant"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("latency per frame, batch 1, this CPU (ms)")
    label = LABELS.get(accuracy, accuracy)
    ax.set_ylabel(f"{label} (%)")
    ax.set_title(title or f"{label} against latency")
    ax.grid(alpha=0.3)
    try:
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def mean_curve(curves: Sequence[Sequence[tuple[float, float]]]) -> tuple[list[float], list[float], list[float],
                                                                         list[float]]:
    """Curves [(time, value), ...] of several seeds -> (times, mean, low, high) on the union of their
    times within the span all of them cover (linear interpolation); one curve is returned as is."""
    import numpy as np

    if len(curves) == 1:
        xs, ys = zip(*curves[0], strict=True)
        return list(xs), list(ys), list(ys), list(ys)
    start = max(c[0][0] for c in curves)
    stop = min(c[-1][0] for c in curves)
    grid = sorted({x for c in curves for x, _ in c if start <= x <= stop}) or [stop]
    values = np.array([np.interp(grid, [x for x, _ in c], [y for _, y in c]) for c in curves])
    return grid, values.mean(axis=0).tolist(), values.min(axis=0).tolist(), values.max(axis=0).tolist()


def plot_convergence(
    histories: dict[str, Sequence[Sequence[dict[str, Any]]]], path: Path | str, key: str = "mean_kpi",
    title: str = ""
) -> Path | None:
    """Validation ``key`` (%) against training time (s): per variant the mean over its seeds' runs,
    with the band from the lowest to the highest seed (``histories``: variant -> one history per seed)."""
    curves = {
        label: [sorted((h["time_s"], 100 * h[key]) for h in hist if h.get(key) is not None and "time_s" in h)
                for hist in runs]
        for label, runs in histories.items()
    }
    curves = {label: [c for c in runs if c] for label, runs in curves.items()}
    curves = {label: runs for label, runs in curves.items() if runs}
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label, runs in curves.items():
        xs, mean, low, high = mean_curve(runs)
        seeds = f" ({len(runs)} seeds)" if len(runs) > 1 else ""
        (line,) = ax.plot(xs, mean, marker=".", label=label + seeds)
        if len(runs) > 1:
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("training time (s)")
    ax.set_ylabel(f"validation {LABELS.get(key, key)} (%)")
    ax.set_title(title or "convergence")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    try:
        return _save(fig, Path(path))
    finally:
        plt.close(fig)
