"""Catheter type from the electrode pattern along the centreline.

The pattern is scale-free where possible (at 256 px a millimetre is about one pixel, but the
magnification varies): electrode count, whether the catheter closes a loop, how regular the
gaps between neighbouring electrodes are, whether they alternate short/long (the paired rings
of a coronary sinus catheter) and whether the tip electrode is larger than the rings (ablation).

| type          | electrodes | gaps                      | other                 |
|---------------|------------|---------------------------|-----------------------|
| cs_decapolar  | 10         | pairs: short, long, short | -                     |
| lasso         | 10 or 20   | even                      | closed loop           |
| quadripolar   | 4          | even                      | equal rings           |
| ablation      | 4          | uneven (1-7-4, 2-5-2)     | long tip electrode    |
| pacing        | 1-2        | -                         | -                     |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatternFeatures:
    """Electrode pattern of one catheter (gaps in pixels along the centreline)."""

    count: int
    closed: bool
    gap_cv: float  # coefficient of variation of the gaps (0 = even)
    alternation: float  # mean |log(gap_i / gap_i+1)| (large for paired rings)
    tip_ratio: float  # tip electrode's larger box side / median of the others' (1 = equal)
    mean_gap: float
    spread: float = 1.0  # largest electrode-to-electrode distance / arc span (about 0.3-0.6 on a loop)


def pattern_features(
    arc: np.ndarray, sizes: np.ndarray | None = None, closed: bool = False, points: np.ndarray | None = None
) -> PatternFeatures:
    """Features of one catheter's electrodes.

    arc: (N,) arc positions along the oriented centreline (tip first after sorting);
    sizes: (N, 2) box width and height in pixels, in the same order as ``arc``, or None;
    points: (N, 2) electrode positions (x, y), or None (then ``spread`` is 1).
    """
    arc = np.asarray(arc, dtype=np.float64)
    order = np.argsort(arc, kind="stable")
    arc = arc[order]
    gaps = np.diff(arc)
    gaps = gaps[gaps > 0.5] if len(gaps) else gaps
    if len(gaps) >= 2:
        gap_cv = float(gaps.std() / max(gaps.mean(), 1e-6))
        alternation = float(np.abs(np.log(gaps[1:] / gaps[:-1])).mean())
    else:
        gap_cv, alternation = 0.0, 0.0
    tip_ratio = 1.0
    if sizes is not None and len(arc) >= 2:
        extent = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)[order].max(axis=1)
        tip_ratio = float(extent[0] / max(np.median(extent[1:]), 1e-6))
    spread = 1.0
    if points is not None and len(arc) >= 3 and arc[-1] - arc[0] > 1e-6:
        xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        spread = float(np.linalg.norm(xy[:, None] - xy[None], axis=2).max() / (arc[-1] - arc[0]))
    return PatternFeatures(
        count=len(arc), closed=bool(closed), gap_cv=gap_cv, alternation=alternation, tip_ratio=tip_ratio,
        mean_gap=float(gaps.mean()) if len(gaps) else 0.0, spread=spread,
    )


def classify_pattern(features: PatternFeatures) -> str:
    """Catheter type (one of cathx.structures.CATHETER_TYPES) from its electrode pattern.

    Count decides first, because a closed centreline alone is ambiguous (a curled ablation tip or
    two crossing catheters close loops too): many electrodes on a loop (closed centreline, or
    electrodes spread over much less than their arc length) make a lasso; many on an open curve a
    CS catheter; 3-6 are told apart by the tip electrode and the evenness of the gaps.
    """
    n = features.count
    if n == 0:
        return "unknown"
    if n <= 2:
        return "pacing"
    looped = features.closed or features.spread < 0.65
    if n >= 12:
        return "lasso"  # 20-pole loop: too many electrodes for anything else
    if n >= 7:
        return "lasso" if looped else "cs_decapolar"
    if n >= 5:
        return "lasso" if looped and features.spread < 0.65 else "cs_decapolar"  # rings missed
    # 3 or 4 electrodes: quadripolar rings are equal and evenly spaced; an ablation catheter
    # has a long tip electrode and uneven gaps.
    # Thresholds from synthetic ground truth: quadripolar tip ratio <= 1.0, gap CV <= 0.09 (95th
    # percentile; foreshortening can raise it to 0.25); ablation tip ratio >= 1.07 (5th percentile).
    if features.tip_ratio > 1.05 or features.gap_cv > 0.3:
        return "ablation"
    return "quadripolar"


def classify_catheter(arc: np.ndarray, sizes: np.ndarray | None = None, closed: bool = False,
                      points: np.ndarray | None = None) -> str:
    """Shortcut: ``classify_pattern(pattern_features(arc, sizes, closed, points))``."""
    return classify_pattern(pattern_features(arc, sizes, closed, points))


def polyline_closes(points: np.ndarray, reach: float = 3.0, min_loop: float = 25.0) -> bool:
    """True when an ordered polyline comes back within ``reach`` pixels of an earlier point that
    lies at least ``min_loop`` pixels before it along the curve (a loop)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) < 3:
        return False
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    step = max(1, len(points) // 200)  # long polylines: a subsample is enough to find a loop
    sub, sub_arc = points[::step], arc[::step]
    near = np.linalg.norm(sub[:, None] - sub[None, :], axis=2) <= reach
    far_along = np.abs(sub_arc[:, None] - sub_arc[None, :]) >= min_loop
    return bool((near & far_along).any())


def type_accuracy(pairs: list[tuple[str, str]]) -> dict:
    """{"accuracy", "count", "per_type": {type: {"count", "accuracy"}}, "confusion": {true: {pred: n}}}."""
    confusion: dict[str, dict[str, int]] = {}
    for true, pred in pairs:
        row = confusion.setdefault(true, {})
        row[pred] = row.get(pred, 0) + 1
    correct = sum(true == pred for true, pred in pairs)
    per_type = {t: {"count": sum(r.values()), "accuracy": r.get(t, 0) / max(sum(r.values()), 1)}
                for t, r in sorted(confusion.items())}
    return {"accuracy": correct / max(len(pairs), 1), "count": len(pairs), "per_type": per_type,
            "confusion": confusion}


def classify_ground_truth(sample) -> list[tuple[str, str]]:
    """(true, predicted) type per labelled catheter of a Sample, classified from its ground-truth
    electrodes projected on its ground-truth centreline (closure read from the centreline)."""
    from cathx.postprocess.assignment import project_to_polyline

    pairs = []
    if sample.electrodes is None or sample.electrode_catheter_ids is None:
        return pairs
    for c, (kind, line) in enumerate(zip(sample.catheter_types, sample.centrelines)):
        members = np.flatnonzero(sample.electrode_catheter_ids == c)
        _, arc = project_to_polyline(sample.electrodes[members], line)
        sizes = None if sample.electrode_sizes is None else sample.electrode_sizes[members]
        if len(arc):
            length = float(np.linalg.norm(np.diff(line, axis=0), axis=1).sum())
            if arc.min() > length - arc.max():
                arc = length - arc
        pairs.append((kind, classify_catheter(arc, sizes, polyline_closes(line), sample.electrodes[members])))
    return pairs


def classify_through_pipeline(sample, mask: np.ndarray | None = None, peaks: np.ndarray | None = None
                              ) -> list[tuple[str, str]]:
    """(true, predicted) type per labelled catheter when the whole post-processing runs on a mask
    and peaks (default: the sample's ground-truth mask and electrodes). A catheter takes the type
    of the predicted catheter that most of its electrodes were assigned to ("missed" if none)."""
    from cathx.postprocess.results import analyse_frame

    if sample.electrodes is None or sample.electrode_catheter_ids is None:
        return []
    if peaks is None:
        sizes = sample.electrode_sizes
        if sizes is None:
            sizes = np.zeros_like(sample.electrodes)
        peaks = np.concatenate([sample.electrodes, np.ones((len(sample.electrodes), 1)), sizes], axis=1)
        truth_of_peak = sample.electrode_catheter_ids
    else:
        gap = np.linalg.norm(peaks[:, None, :2] - sample.electrodes[None], axis=2)
        nearest = gap.argmin(axis=1) if gap.size else np.zeros(len(peaks), int)
        truth_of_peak = np.where(gap.min(axis=1) <= 3.0, sample.electrode_catheter_ids[nearest], -1) \
            if gap.size else np.full(len(peaks), -1)
    results = analyse_frame(sample.mask if mask is None else mask, peaks)
    pairs = []
    for c, kind in enumerate(sample.catheter_types):
        assigned = results.electrode_catheter[(truth_of_peak == c) & (results.electrode_catheter >= 0)]
        if len(assigned) == 0:
            pairs.append((kind, "missed"))
            continue
        pairs.append((kind, results.catheters[int(np.bincount(assigned).argmax())].type))
    return pairs
