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
    """``project_to_polyline`` for several polylines in one vectorised pass: (C, N) distances, arcs."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    count = len(points)
    distance = np.full((len(polylines), count), np.inf)
    arc = np.full((len(polylines), count), np.nan)
    starts, steps, arc_starts, bounds = [], [], [], [0]
    for c, line in enumerate(polylines):
        line = np.asarray(line, dtype=np.float64).reshape(-1, 2)
        if len(line) == 1:  # a single point: a zero-length segment
            line = np.repeat(line, 2, axis=0)
        if len(line) == 0:
            bounds.append(bounds[-1])
            continue
        step = np.diff(line, axis=0)
        length = np.sqrt((step**2).sum(axis=1))
        starts.append(line[:-1])
        steps.append(step)
        arc_starts.append(np.concatenate([[0.0], np.cumsum(length)[:-1]]))
        bounds.append(bounds[-1] + len(step))
    if count == 0 or bounds[-1] == 0:
        return distance, arc
    start, step, arc_start = np.concatenate(starts), np.concatenate(steps), np.concatenate(arc_starts)
    seg_sq = (step**2).sum(axis=1)
    rx = points[:, None, 0] - start[None, :, 0]
    ry = points[:, None, 1] - start[None, :, 1]
    t = np.clip((rx * step[None, :, 0] + ry * step[None, :, 1]) / np.maximum(seg_sq, 1e-12), 0.0, 1.0)
    gap_sq = (rx - t * step[None, :, 0]) ** 2 + (ry - t * step[None, :, 1]) ** 2  # (N, S)
    rows = np.arange(count)
    for c in range(len(polylines)):
        low, high = bounds[c], bounds[c + 1]
        if high == low:
            continue
        best = low + gap_sq[:, low:high].argmin(axis=1)
        distance[c] = np.sqrt(gap_sq[rows, best])
        arc[c] = arc_start[best] + t[rows, best] * np.sqrt(seg_sq[best])
    return distance, arc


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
