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


def project_to_polylines(points: np.ndarray, polylines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``project_to_polyline`` for several polylines in one compiled pass (``compiled.project_points``):
    (C, N) distances, arcs."""
    from cathx.postprocess.compiled import project_points

    points = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 2))
    lines = [np.asarray(line, dtype=np.float64).reshape(-1, 2) for line in polylines]
    bounds = np.zeros(len(lines) + 1, np.int64)
    np.cumsum([len(line) for line in lines], out=bounds[1:])
    vertices = np.concatenate(lines) if lines else np.zeros((0, 2))
    return project_points(points, np.ascontiguousarray(vertices), bounds)


def assign_electrodes(
    electrodes: np.ndarray, centrelines: list[np.ndarray], max_distance: float = 6.0
) -> tuple[Assignment, list[np.ndarray]]:
    """Assign electrodes to their nearest centreline and number them from the distal tip.

    electrodes: (N, 2) (x, y) pixels; centrelines: (M, 2) polylines. Each centreline is
    oriented so that it starts at its distal tip: the end nearer to its electrodes (catheters
    carry their electrodes at the tip). Returns the Assignment and the oriented centrelines
    (reversed copies where needed; a centreline without electrodes is kept as it is).
    """
    electrodes = np.asarray(electrodes, dtype=np.float64).reshape(-1, 2)
    count = len(electrodes)
    catheter = np.full(count, -1, dtype=np.int64)
    index = np.full(count, -1, dtype=np.int64)
    arc = np.full(count, np.nan, dtype=np.float32)
    distance = np.full(count, np.inf, dtype=np.float32)
    oriented = [np.asarray(line, dtype=np.float32) for line in centrelines]
    if count == 0 or not oriented:
        return Assignment(catheter, index, arc, distance), oriented
    # Only centrelines whose bounding box, widened by max_distance, holds an electrode can take
    # one: the others (shaft fragments, distractors) are left out of the projection.
    gaps = np.full((len(oriented), count), np.inf)
    arcs = np.full((len(oriented), count), np.nan)
    reachable = [c for c, line in enumerate(oriented) if len(line) and bool(np.any(
        np.all((electrodes >= line.min(axis=0) - max_distance) & (electrodes <= line.max(axis=0) + max_distance),
               axis=1)))]
    if reachable:
        gaps[reachable], arcs[reachable] = project_to_polylines(electrodes, [oriented[c] for c in reachable])
    nearest = gaps.argmin(axis=0)
    reach = gaps[nearest, np.arange(count)] <= max_distance
    for c, line in enumerate(oriented):
        members = np.flatnonzero(reach & (nearest == c))
        if len(members) == 0:
            continue
        positions = arcs[c, members]
        length = float(np.linalg.norm(np.diff(line, axis=0), axis=1).sum()) if len(line) > 1 else 0.0
        if positions.min() > length - positions.max():  # electrodes sit nearer the end: flip
            oriented[c] = line[::-1].copy()
            positions = length - positions
        order = np.argsort(positions, kind="stable")
        catheter[members] = c
        index[members[order]] = np.arange(len(members))
        arc[members] = positions
        distance[members] = gaps[c, members]
    return Assignment(catheter, index, arc, distance), oriented
