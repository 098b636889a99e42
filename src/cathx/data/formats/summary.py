"""Dataset statistics for ``cathx data check``: counts, sizes, label statistics and problems."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cathx.data.formats import xraycath_layout as layout
from cathx.data.formats.base import Reader, read_split_listing
from cathx.errors import DataError


@dataclass
class DatasetSummary:
    """What ``summarize`` found; every list of numbers has one entry per decoded sample."""

    format: str
    path: str
    samples: int
    checked: int = 0
    split_files: dict[str, int] = field(default_factory=dict)
    image_sizes: Counter = field(default_factory=Counter)
    mask_coverage: list[float] = field(default_factory=list)
    electrodes_per_image: list[int] = field(default_factory=list)
    size_classes: Counter = field(default_factory=Counter)  # CathMTL Strength class 0/1/2 per electrode
    catheter_types: Counter = field(default_factory=Counter)
    sequences: set = field(default_factory=set)
    frame_rates: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def summarize(reader: Reader, limit: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> DatasetSummary:
    """Decode up to ``limit`` samples of ``reader`` (all when None) and collect statistics.

    progress: called as ``progress(samples_done, samples)`` after each sample.

    Samples that fail to decode are added to ``problems`` (one line naming the file) and the scan
    goes on; the reader's own problems (skipped files, bad CSV rows) come first.
    """
    summary = DatasetSummary(reader.name, str(reader.root), len(reader))
    summary.problems.extend(reader.problems)
    for split_file in getattr(reader, "split_files", []):
        path = Path(split_file)
        try:
            summary.split_files[str(path)] = len(read_split_listing(path))
        except DataError as exc:
            summary.problems.append(str(exc))
    count = len(reader) if limit is None else min(limit, len(reader))
    for index in range(count):
        if progress is not None and index:
            progress(index, count)
        try:
            sample = reader[index]
        except DataError as exc:
            summary.problems.append(str(exc))
            continue
        summary.checked += 1
        summary.image_sizes[f"{sample.width}x{sample.height}"] += 1
        if sample.mask is not None:
            summary.mask_coverage.append(float(sample.mask.mean()))
        if sample.electrodes is not None:
            summary.electrodes_per_image.append(len(sample.electrodes))
            if sample.electrode_sizes is not None and len(sample.electrode_sizes):
                strength = layout.strength_from_box_side(sample.electrode_sizes.max(axis=1), sample.width)
                summary.size_classes.update(layout.strength_class(strength).tolist())
        summary.catheter_types.update(sample.catheter_types)
        if sample.meta.get("sequence_id") is not None:
            summary.sequences.add(str(sample.meta["sequence_id"]))
        if sample.meta.get("fps"):
            summary.frame_rates[round(float(sample.meta["fps"]), 3)] += 1
    if progress is not None:
        progress(count, count)
    return summary


SHOWN_PROBLEMS = 20


def capped(problems: list[str], shown: int = SHOWN_PROBLEMS) -> list[str]:
    """The first ``shown`` problem lines, then one "... and N more" line when there are more."""
    if len(problems) <= shown:
        return list(problems)
    return [*problems[:shown], f"... and {len(problems) - shown} more"]


def skipped_count(problems: list[str]) -> int:
    """How many of the readers' problem lines dropped a sample (they end with a "(skipped ...)" note)."""
    return sum("(skipped" in problem for problem in problems)


def problem_report(problems: list[str], what: str, shown: int = SHOWN_PROBLEMS) -> list[str]:
    """Lines telling how many samples of ``what`` were skipped and why: a count line, then the
    capped problem list indented; no lines without problems."""
    if not problems:
        return []
    skipped = skipped_count(problems)
    head = f"{what}: {skipped} sample(s) skipped, {len(problems)} problem(s) while reading:"
    return [head, *(f"  - {line}" for line in capped(problems, shown))]


def describe(values: list[float] | list[int], scale: float = 1.0, digits: int = 2) -> str:
    """'mean m, min a, max b' of ``values`` times ``scale``."""
    array = np.asarray(values, np.float64) * scale
    return f"mean {array.mean():.{digits}f}, min {array.min():.{digits}f}, max {array.max():.{digits}f}"
