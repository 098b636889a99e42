"""The coronary sinus motion curve of a sequence as files: motion.csv and the plot motion.png."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from cathx.postprocess.motion import Motion

# How each quality flag is drawn: (label, marker, face colour, edge colour).
_STYLE: dict[str, tuple[str, str, str, str]] = {
    "measured": ("measured", "o", "#1f77b4", "#1f77b4"),
    "partial": ("partial (few electrodes)", "o", "white", "#1f77b4"),
    "interpolated": ("bridged gap (interpolated)", "x", "#ff7f0e", "#ff7f0e"),
    "held": ("held at an end", "s", "white", "#7f7f7f"),
}


def motion_csv(motion: Motion) -> str:
    """CSV text, one row per frame with ``Motion.COLUMNS`` (empty cells where there is no value)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(Motion.COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(motion.rows())
    return buffer.getvalue()


def motion_png(motion: Motion, fps: float | None = None, title: str = "") -> bytes:
    """PNG bytes of the displacement curve: dx and dy against time (seconds when ``fps`` is known,
    else frames), one marker per frame by quality flag, frames without a value shaded."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure state

    frames = np.asarray(motion.frames, np.float64)
    x = frames / fps if fps else frames
    figure = Figure(figsize=(8.0, 4.8), dpi=110, layout="constrained")
    axes = figure.subplots(2, 1, sharex=True)
    have = motion.quality != "missing"
    step = float(np.median(np.diff(x))) if len(x) > 1 else 1.0
    for k, (ax, name) in enumerate(zip(axes, ("dx (right +)", "dy (down +)"))):
        values = motion.displacement[:, k]
        ax.plot(x, values, color="#1f77b4", linewidth=1.2, zorder=1)
        for flag, (label, marker, face, edge) in _STYLE.items():
            chosen = motion.quality == flag
            if chosen.any():
                colours = {"color": edge} if marker == "x" else {"facecolors": face, "edgecolors": edge}
                ax.scatter(x[chosen], values[chosen], marker=marker, s=22, linewidths=1.2, label=label,
                           zorder=2, **colours)
        for t in np.flatnonzero(~have):
            ax.axvspan(x[t] - step / 2, x[t] + step / 2, color="#d62728", alpha=0.12, linewidth=0, zorder=0)
        ax.axhline(0.0, color="#999999", linewidth=0.8, zorder=0)
        ax.set_ylabel(f"{name}, px")
        ax.grid(True, alpha=0.3)
    if (~have).any():
        axes[0].axvspan(np.nan, np.nan, color="#d62728", alpha=0.12, label="no value")
    axes[-1].set_xlabel("time (s)" if fps else "frame")
    if motion.catheter_id is None:
        for ax in axes:
            ax.text(0.5, 0.5, "no coronary sinus catheter found", transform=ax.transAxes, ha="center",
                    va="center", color="#555555")
    else:
        axes[0].legend(loc="best", fontsize=8, ncol=2, framealpha=0.85)
    counts = {flag: int(np.sum(motion.quality == flag)) for flag in _STYLE}
    summary = "CS motion"
    if motion.catheter_id is not None:
        parts = ", ".join(f"{n} {flag}" for flag, n in counts.items() if n)
        summary = f"CS catheter #{motion.catheter_id}: {parts} of {len(frames)} frames"
    figure.suptitle(f"{title}  {summary}".strip(), fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_motion(folder: Path, motion: Motion, fps: float | None = None, title: str = "",
                 stem: str = "motion") -> dict[str, Path]:
    """Write STEM.csv and STEM.png into ``folder`` (atomically); returns their paths."""
    from cathx.fileio import atomic_write_bytes, atomic_write_text

    paths = {"csv": Path(folder) / f"{stem}.csv", "png": Path(folder) / f"{stem}.png"}
    atomic_write_text(paths["csv"], motion_csv(motion))
    atomic_write_bytes(paths["png"], motion_png(motion, fps, title))
    return paths
