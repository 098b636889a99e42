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

from cathx.geometry import arc_length
from cathx.structures import TYPE_HEAD_CLASSES

# A far-end electrode this much longer than the others is an ablation tip on a tail-first
# centreline (the proximal ring of a quadripolar catheter reads up to about 1.15x: a bent ring's box).
TAIL_TIP_RATIO = 1.3


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
    tail_ratio: float = 1.0  # the same ratio for the electrode at the other end


def pattern_features(
    arc: np.ndarray, sizes: np.ndarray | None = None, closed: bool = False, points: np.ndarray | None = None
) -> PatternFeatures:
    """Features of one catheter's electrodes.

    arc: (N,) arc positions along the oriented centreline (tip first after sorting);
    sizes: (N, 2) box width and height in pixels, in the same order as ``arc``, or None;
    points: (N, 2) electrode positions (x, y), or None (then ``spread`` is 1).
    """
    arc = np.asarray(arc, dtype=np.float64)
    if len(arc) == 0:  # a third of a network's catheters (shafts, pieces cut at crossings)
        return PatternFeatures(count=0, closed=bool(closed), gap_cv=0.0, alternation=0.0, tip_ratio=1.0,
                               mean_gap=0.0)
    from cathx.postprocess.compiled import electrode_pattern

    none = np.zeros((0, 2))
    sizes = none if sizes is None else np.ascontiguousarray(np.asarray(sizes, dtype=np.float64).reshape(-1, 2))
    points = none if points is None else np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 2))
    gap_cv, alternation, tip_ratio, tail_ratio, mean_gap, spread = electrode_pattern(
        np.ascontiguousarray(arc), sizes, points)
    return PatternFeatures(count=len(arc), closed=bool(closed), gap_cv=gap_cv, alternation=alternation,
                           tip_ratio=tip_ratio, mean_gap=mean_gap, spread=spread, tail_ratio=tail_ratio)


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
    # Electrodes on a curve are never farther apart than the arc between them (spread <= 1); above
    # that, the centreline is not their path: a loop seen edge-on, whose mask is a single band.
    # Synthetic ground truth: CS catheters <= 1.02, a quarter of open-looking lassos > 1.02.
    looped = features.closed or features.spread < 0.65 or features.spread > 1.05
    if n >= 12:
        return "lasso"  # 20-pole loop: too many electrodes for anything else
    if n >= 7:
        return "lasso" if looped else "cs_decapolar"
    if n >= 5:
        return "lasso" if looped and not 0.65 <= features.spread <= 1.05 else "cs_decapolar"  # rings missed
    # 3 or 4 electrodes: quadripolar rings are equal and evenly spaced; an ablation catheter
    # has a long tip electrode and uneven gaps.
    # Thresholds from synthetic ground truth: quadripolar tip ratio <= 1.0, gap CV <= 0.09 (95th
    # percentile; foreshortening can raise it to 0.25); ablation tip ratio >= 1.07 (5th percentile).
    # A centreline cut short (crossings, the frame border) may run tail-first, so a clearly long
    # electrode at the far end marks an ablation tip too (a higher bar there: TAIL_TIP_RATIO).
    if features.tip_ratio > 1.05 or features.tail_ratio > TAIL_TIP_RATIO or features.gap_cv > 0.3:
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
    arc = arc_length(points)
    step = max(1, len(points) // 200)  # long polylines: a subsample is enough to find a loop
    sub, sub_arc = points[::step], arc[::step]
    near = np.linalg.norm(sub[:, None] - sub[None, :], axis=2) <= reach
    far_along = np.abs(sub_arc[:, None] - sub_arc[None, :]) >= min_loop
    return bool((near & far_along).any())


def mean_type_probabilities(probabilities: np.ndarray, points: np.ndarray, image_size: tuple[int, int]
                            ) -> np.ndarray | None:
    """(T,) mean of a type head's per-cell probabilities over the cells a centreline crosses.

    probabilities: (T, h, w) per-cell class probabilities (TYPE_HEAD_CLASSES order) covering the
    whole frame; points: (M, 2) the catheter's centreline (x, y) in pixels of a frame of
    ``image_size`` (H, W); each cell counts once however many points fall in it. None without points.
    """
    from cathx.postprocess.compiled import cell_means

    probabilities = np.ascontiguousarray(probabilities, np.float32)
    points = np.ascontiguousarray(np.asarray(points, np.float64).reshape(-1, 2))
    if len(points) == 0 or probabilities.ndim != 3:
        return None
    return cell_means(probabilities, points, int(image_size[0]), int(image_size[1]))


def type_from_probabilities(probabilities: np.ndarray, points: np.ndarray, image_size: tuple[int, int]
                            ) -> tuple[str, float]:
    """(type, confidence) of a catheter from a network's type head: the class of
    ``mean_type_probabilities`` and that mean probability; ("unknown", 0.0) without points."""
    mean = mean_type_probabilities(probabilities, points, image_size)
    if mean is None:
        return "unknown", 0.0
    best = int(mean.argmax())
    return TYPE_HEAD_CLASSES[best], float(mean[best])
