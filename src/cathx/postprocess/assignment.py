"""Electrode-to-catheter assignment and electrode order along each catheter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Assignment:
    """Where each electrode sits.

    catheter: (N,) int64 index of the nearest centreline, -1 when none is within reach.
    index: (N,) int64 order along its catheter, 0 at the distal tip; -1 when unassigned.
    arc: (N,) float32 arc-length position of the electrode's projection, in pixels from the
        start of the (oriented) centreline; NaN when unassigned.
    distance: (N,) float32 distance to the assigned centreline in pixels (inf when none).
    """

    catheter: np.ndarray
    index: np.ndarray
    arc: np.ndarray
    distance: np.ndarray


def project_to_polyline(points: np.ndarray, polyline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to a polyline and the arc position of its nearest point.

    points: (N, 2); polyline: (M, 2), both (x, y) pixels. Returns (distance (N,), arc (N,)).
    """
    distance, arc = project_to_polylines(points, [polyline])
    return distance[0], arc[0]


def stack_polylines(polylines: list[np.ndarray], dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Polylines (M_c, 2) one after another, as the compiled loops take them: (vertices (sum M_c, 2)
    contiguous ``dtype``, bounds (C + 1,) int64), polyline c being ``vertices[bounds[c]:bounds[c + 1]]``."""
    lines = [np.asarray(line, dtype=dtype).reshape(-1, 2) for line in polylines]
    bounds = np.zeros(len(lines) + 1, np.int64)
    np.cumsum([len(line) for line in lines], out=bounds[1:])
    vertices = np.concatenate(lines) if lines else np.zeros((0, 2), dtype)
    return np.ascontiguousarray(vertices), bounds


def project_to_polylines(points: np.ndarray, polylines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``project_to_polyline`` for several polylines in one compiled pass (``compiled.project_points``):
    (C, N) distances, arcs."""
    from cathx.postprocess.compiled import project_points

    points = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 2))
    return project_points(points, *stack_polylines(polylines))


def assign_electrodes(
    electrodes: np.ndarray, centrelines: list[np.ndarray], max_distance: float = 6.0
) -> tuple[Assignment, list[np.ndarray]]:
    """Assign electrodes to their nearest centreline and number them from the distal tip.

    electrodes: (N, 2) (x, y) pixels; centrelines: (M, 2) polylines. Each centreline is
    oriented so that it starts at its distal tip: the end nearer to its electrodes (catheters
    carry their electrodes at the tip). Returns the Assignment and the oriented centrelines
    (reversed copies where needed; a centreline without electrodes is kept as it is).
    """
    from cathx.postprocess.compiled import assign_points

    electrodes = np.ascontiguousarray(np.asarray(electrodes, dtype=np.float64).reshape(-1, 2))
    oriented = [np.asarray(line, dtype=np.float32).reshape(-1, 2) for line in centrelines]
    catheter, index, arc, distance, flipped = assign_points(electrodes, *stack_polylines(oriented, np.float32),
                                                            float(max_distance))
    for c in np.flatnonzero(flipped).tolist():  # its electrodes sit nearer the end: start there
        oriented[c] = oriented[c][::-1].copy()
    return Assignment(catheter, index, arc, distance), oriented
