"""Polyline geometry shared by the synthetic engines and the post-processing (a leaf: numpy only)."""

from __future__ import annotations

import numpy as np


def arc_length(points: np.ndarray) -> np.ndarray:
    """Cumulative arc length (M,) of a polyline (M, D), starting at 0."""
    points = np.asarray(points, np.float64)
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])


def catmull_rom(control, per_segment: int = 24, closed: bool = False) -> np.ndarray:
    """Dense uniform Catmull-Rom curve through ``control`` (K, D) -> (M, D) float64.

    Open curves pass through every control point, ends included (the end tangents come from
    reflecting the second and second-to-last points); closed curves run back to the first point.
    ``per_segment`` samples per span between control points. K < 2 returns the points as given.
    """
    control = np.asarray(control, np.float64)
    if len(control) < 2:
        return control.copy()
    if closed:
        padded = np.vstack([control[-1:], control, control[:2]])
    else:
        padded = np.vstack([2 * control[0] - control[1], control, 2 * control[-1] - control[-2]])
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    pieces = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        pieces.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                             + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    if not closed:
        pieces.append(control[-1:])
    return np.vstack(pieces)


def median(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """``np.median(values, axis)`` for the small arrays of the per-frame post-processing (a few to
    a few dozen values): one sort instead of np.median's general machinery (3.5 against 8.6 us for
    a (6, 2) array here).
    NaN propagation is not handled (the callers pass finite values). Empty input gives NaN."""
    values = np.asarray(values, dtype=np.float64)
    count = values.shape[axis]
    if count == 0:
        return np.full(np.delete(values.shape, axis), np.nan) if values.ndim > 1 else np.float64(np.nan)
    ordered = np.sort(values, axis=axis)
    middle = count // 2
    upper = np.take(ordered, middle, axis=axis)
    return upper if count % 2 else 0.5 * (np.take(ordered, middle - 1, axis=axis) + upper)
