"""Catheter centrelines from a binary mask: skeleton -> pixel graph -> pruned, ordered polylines.

The mask is thinned to a one-pixel skeleton (scikit-image). Its pixels become a graph with
"m-adjacency" (a diagonal step only where no 4-neighbour path exists), which keeps the graph free
of the tiny triangles plain 8-adjacency makes at corners, so real cycles (a lasso's loop) are the
only cycles. The pixel graph is collapsed into a small graph of nodes (end points, junction
clusters) and edges (pixel chains). Short end branches are pruned; a catheter's centreline starts at one end
of the longest shortest path and, at every junction, continues into the branch that turns least
(catheters run straight through crossings and out of the forks of a bundle). What is left is
covered the same way. A walk that comes back to a node it passed closes a loop (lasso: marked
closed); a chain leaving the end of a path and returning to it is merged as a loop too.

Everything after the thinning runs compiled (``cathx.postprocess.compiled``: ``skeleton_graph``,
``chain_graph``, ``centreline_paths``); this module turns their pixel paths into Centrelines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from skimage.morphology import skeletonize

from cathx.geometry import arc_length


@dataclass
class Centreline:
    """One catheter's centreline.

    points: (M, 2) float32 ordered polyline (x, y) in pixels, one-pixel steps.
    closed: True when the catheter forms a loop (circular mapping catheter).
    component: id of the skeleton piece it was found in (crossing lines share one).
    junctions: arc positions (pixels from the start) where other branches leave the line: where
        catheters merged in the mask part, so electrodes on either side belong to different ones.
    """

    points: np.ndarray
    closed: bool = False
    component: int = 0
    junctions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @cached_property
    def length(self) -> float:  # asked by the sort and by analyse_frame: computed once (points are not changed)
        return polyline_length(self.points)


def polyline_length(points: np.ndarray) -> float:
    """Sum of segment lengths of an (M, 2) polyline, in pixels (in float32 for float32 points)."""
    from cathx.postprocess import compiled

    points = np.asarray(points)
    if len(points) < 2:
        return 0.0
    if points.dtype not in (np.float32, np.float64):
        points = points.astype(np.float64)
    return float(compiled.polyline_length(np.ascontiguousarray(points.reshape(-1, 2))))


# At a junction a centreline continues into the branch that turns least, if it turns less than
# this; directions are taken over this many pixels of chain on either side.
MAX_TURN_DEGREES = 60.0
DIRECTION_REACH = 8


def extract_centrelines(mask: np.ndarray, min_length: int = 16, min_branch: int = 10, straight: bool = True
                        ) -> list[Centreline]:
    """Ordered centrelines of every catheter in a binary mask.

    mask: (H, W) bool/uint8. Skeleton pieces shorter than ``min_length`` pixels are dropped
    (noise, electrode bumps); spurs shorter than ``min_branch`` are pruned first. ``straight``:
    continue through junctions into the straightest branch (else keep the longest path). A chain that
    leaves the end of a centreline and comes back to it closes a loop (lasso): the centreline goes
    round it and is marked closed. Returns Centrelines in (x, y) pixels, longest first.
    """
    from cathx.postprocess import compiled

    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        mask = mask > 0
    # Thinning is local: the mask's bounding box (plus a one-pixel border) gives the same skeleton
    # at a fraction of a whole frame's cost.
    crop, top, left = compiled.padded_crop(np.ascontiguousarray(mask))
    if crop.size == 0:
        return []
    skeleton = skeletonize(crop)
    xy, path_offsets, closed, pieces, junction_at, junction_offsets = compiled.skeleton_centrelines(
        skeleton, top, left, float(min_length), float(min_branch), bool(straight), MAX_TURN_DEGREES, DIRECTION_REACH)
    found: list[Centreline] = []
    for p, (start, stop) in enumerate(zip(path_offsets[:-1].tolist(), path_offsets[1:].tolist())):
        line = Centreline(xy[start:stop], closed=bool(closed[p]), component=int(pieces[p]))
        if line.length >= min_length:
            inner = junction_at[junction_offsets[p]:junction_offsets[p + 1]]
            if len(inner):
                line.junctions = arc_length(line.points)[inner].astype(np.float32)
            found.append(line)
    found.sort(key=lambda line: -line.length)
    return found


def resample_polyline(points: np.ndarray, count: int) -> np.ndarray:
    """(M, 2) polyline -> (count, 2) float32 points evenly spaced by arc length."""
    if len(points) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    if len(points) == 1:
        return np.repeat(points.astype(np.float32), count, axis=0)
    from cathx.postprocess import compiled

    points = np.asarray(points)
    if points.dtype not in (np.float32, np.float64):
        points = points.astype(np.float64)
    return compiled.resample_polyline(np.ascontiguousarray(points.reshape(-1, 2)), int(count))
