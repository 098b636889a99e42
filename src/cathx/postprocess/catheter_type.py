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


def pattern_features(
    arc: np.ndarray, sizes: np.ndarray | None = None, closed: bool = False
) -> PatternFeatures:
    """Features of one catheter's electrodes.

    arc: (N,) arc positions along the oriented centreline (tip first after sorting);
    sizes: (N, 2) box width and height in pixels, in the same order as ``arc``, or None.
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
    return PatternFeatures(
        count=len(arc), closed=bool(closed), gap_cv=gap_cv, alternation=alternation, tip_ratio=tip_ratio,
        mean_gap=float(gaps.mean()) if len(gaps) else 0.0,
    )


def classify_pattern(features: PatternFeatures) -> str:
    """Catheter type (one of cathx.structures.CATHETER_TYPES) from its electrode pattern."""
    n = features.count
    if n == 0:
        return "unknown"
    if features.closed:
        return "lasso"
    if n >= 12:
        return "lasso"  # 20-pole loop seen edge-on: too many electrodes for anything else
    if n >= 7:
        return "cs_decapolar" if features.alternation > 0.35 or features.gap_cv > 0.3 else "lasso"
    if n <= 2:
        return "pacing"
    if n >= 5:
        return "cs_decapolar"  # a decapolar with missed rings
    # 3 or 4 electrodes: quadripolar rings are equal and evenly spaced; an ablation catheter
    # has a long tip electrode and uneven gaps.
    if features.tip_ratio > 1.6 or features.gap_cv > 0.3:
        return "ablation"
    return "quadripolar"


def classify_catheter(arc: np.ndarray, sizes: np.ndarray | None = None, closed: bool = False) -> str:
    """Shortcut: ``classify_pattern(pattern_features(arc, sizes, closed))``."""
    return classify_pattern(pattern_features(arc, sizes, closed))
