"""Results tables: per-run records -> mean and standard deviation over seeds, as CSV and markdown.

A record is one trained and evaluated run (one variant, one seed), a flat dict with the keys of
RECORD_FIELDS (missing values are None). Accuracy figures are stored as fractions in [0, 1] and
shown in percent, like the paper's tables.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cathx.fileio import atomic_write_text

# (key, column title, scale for display, decimals)
METRICS: tuple[tuple[str, str, float, int], ...] = (
    ("ap", "AP (%)", 100.0, 2),
    ("mean_j", "Mean J (%)", 100.0, 2),
    ("mean_kpi", "Mean KPI (%)", 100.0, 2),
    ("params_m", "Params (M)", 1.0, 2),
    ("gflops", "GFLOPs", 1.0, 2),
    ("latency_ms", "Latency (ms)", 1.0, 1),
    ("fps", "FPS", 1.0, 1),
    # estimated: the converging step's share of the run's wall time (runner.time_to_converge; logs carry no clock)
    ("converge_s", "Time to converge (s, est.)", 1.0, 0),
    ("train_s", "Train time (s)", 1.0, 0),
)
RECORD_FIELDS = (
    "suite", "variant", "paper_row", "seed", "status", "note", *(m[0] for m in METRICS), "epochs", "steps", "test_images",
    "cpu", "profile_size",
)


def mean_kpi(ap: float | None, mean_j: float | None) -> float | None:
    """The paper's mean KPI: the average of AP and mean J (single-task runs have only one of them)."""
    if ap is None or mean_j is None:
        return None
    return (ap + mean_j) / 2.0


# Measured once per variant and CPU and copied into each seed's record: a spread over seeds
# would be a made-up 0, so these columns carry no std.
PROFILE_KEYS = frozenset({"params_m", "gflops", "latency_ms", "fps"})


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof=1; None for a single value: no spread was
    measured); (None, None) when empty."""
    values = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


def time_to_converge(history: Sequence[dict[str, Any]], key: str = "mean_kpi", fraction: float = 0.95) -> float | None:
    """Seconds of training until validation ``key`` first reaches ``fraction`` of its best value.

    history: evaluations in time order, each a dict with "time_s" (training seconds so far) and
    ``key``. None when no evaluation carries the key or the best value is not positive.
    """
    points = [(float(h["time_s"]), float(h[key])) for h in history if h.get(key) is not None and "time_s" in h]
    if not points:
        return None
    best = max(value for _, value in points)
    if best <= 0:
        return None
    for time_s, value in points:
        if value >= fraction * best:
            return time_s
    return None  # pragma: no cover - the best point always qualifies


def summarize(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (suite, variant) in first-seen order: mean and std of every metric over its seeds.

    Runs whose status is not "ok" are counted in "failed" and left out of the statistics.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record.get("suite", ""), record["variant"]), []).append(record)
    rows = []
    for (suite, variant), runs in groups.items():
        ok = [r for r in runs if r.get("status", "ok") == "ok"]
        row: dict[str, Any] = {
            "suite": suite,
            "variant": variant,
            "paper_row": runs[0].get("paper_row", ""),
            "seeds": len(ok),
            "failed": len(runs) - len(ok),
            "notes": "; ".join(sorted({r["note"] for r in runs if r.get("note")})),
        }
        for key, *_ in METRICS:
            row[f"{key}_mean"], row[f"{key}_std"] = mean_std([r.get(key) for r in ok])
            if key in PROFILE_KEYS:
                row[f"{key}_std"] = None
        rows.append(row)
    return rows


def _cell(mean: float | None, std: float | None, scale: float, decimals: int, seeds: int) -> str:
    if mean is None:
        return "-"
    text = f"{mean * scale:.{decimals}f}"
    if seeds > 1 and std is not None:
        text += f" ± {std * scale:.{decimals}f}"
    return text


def to_markdown(rows: Sequence[dict[str, Any]], metrics: Sequence[str] | None = None) -> str:
    """A GitHub markdown table: method, paper row, seeds, then "mean ± std" per metric."""
    chosen = [m for m in METRICS if metrics is None or m[0] in metrics]
    header = ["Variant", "Paper row", "Seeds", *(title for _, title, _, _ in chosen)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        seeds = row["seeds"]
        seeds_text = str(seeds) if not row.get("failed") else f"{seeds} ({row['failed']} failed)"
        cells = [row["variant"], row.get("paper_row", ""), seeds_text]
        cells += [_cell(row[f"{k}_mean"], row[f"{k}_std"], scale, dec, seeds) for k, _, scale, dec in chosen]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV text of summary rows (raw fractions, not percent)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()


def records_to_csv(records: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(RECORD_FIELDS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: ("" if record.get(k) is None else record.get(k)) for k in RECORD_FIELDS})
    return buffer.getvalue()


def cpu_lines(records: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown lines naming the CPUs the runs were made on (runs from before the field: "not recorded"),
    with a warning when there is more than one: a time-budgeted run's steps depend on the CPU."""
    counts = Counter(record.get("cpu") or "not recorded" for record in records)
    if not counts:
        return []
    lines = ["\nRuns made on: " + "; ".join(f"{cpu} ({n} run{'s' * (n != 1)})" for cpu, n in counts.items()) + "\n"]
    if len(counts) > 1:
        lines.append("\n**Warning**: these runs come from more than one kind of CPU; with a time budget per run "
                     "they trained for different numbers of steps, so compare rows from one CPU only.\n")
    return lines


def write_tables(records: Sequence[dict[str, Any]], out: Path | str, title: str = "cathx benchmark") -> list[Path]:
    """Write summary.csv, runs.csv and results.md (one table per suite) under ``out``; returns the paths."""
    out = Path(out)
    rows = summarize(records)
    paths = [out / "summary.csv", out / "runs.csv", out / "results.md"]
    atomic_write_text(paths[0], to_csv(rows))
    atomic_write_text(paths[1], records_to_csv(records))
    parts = [f"# {title}\n"]
    parts.extend(cpu_lines(records))
    for suite in dict.fromkeys(row["suite"] for row in rows):
        parts.append(f"\n## Suite: {suite}\n\n")
        parts.append(to_markdown([row for row in rows if row["suite"] == suite]))
        notes = [f"- {row['variant']}: {row['notes']}" for row in rows if row["suite"] == suite and row["notes"]]
        if notes:
            parts.append("\nNotes:\n" + "\n".join(notes) + "\n")
    atomic_write_text(paths[2], "".join(parts))
    return paths
