"""Where overlay text goes: catheter labels that never overlap nor leave the frame, and the legend corner.

Pure geometry on boxes ``(x0, y0, x1, y1)`` in pixels, end-exclusive: ``Results.plot`` measures its
text, asks here where to put it and draws it. An optional summed-area table of an occupancy image
(mask, centrelines, electrodes) lets the layout prefer spots that hide the least of what was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]

# Box top-left offsets around an anchor, best first: above right of it (text reads away from the
# point), below right, the two on the left, centred above and below, then level right and left.
# Each entry is (fx, fy, sx, sy): x0 = ax + fx * w + sx * gap, y0 = ay + fy * h + sy * gap.
_OFFSETS = np.array([
    (0.0, -1.0, 1, -1), (0.0, 0.0, 1, 1), (-1.0, -1.0, -1, -1), (-1.0, 0.0, -1, 1),
    (-0.5, -1.0, 0, -1), (-0.5, 0.0, 0, 1), (0.0, -0.5, 1, 0), (-1.0, -0.5, -1, 0),
], dtype=np.float64)

ANCHOR_COST = 1.0  # per step away from the preferred anchor (the tip)
OFFSET_COST = 0.1  # per step down _OFFSETS
COVER_COST = 20.0  # times the fraction of the box over occupied pixels
LEADER_COST = 10.0  # any spot that needs a leader line is worse than every spot beside an anchor


@dataclass(frozen=True)
class LabelPlacement:
    """Where one label went: its box, the anchor it belongs to and whether a leader line joins them."""

    box: Box
    anchor: tuple[float, float]
    leader: bool


def summed_area(occupancy: np.ndarray) -> np.ndarray:
    """(H, W) occupancy (non-zero: occupied) -> (H + 1, W + 1) int32 table; ``box_cover`` reads it."""
    import cv2

    return cv2.integral(np.ascontiguousarray(occupancy != 0, dtype=np.uint8), sdepth=cv2.CV_32S)


def box_cover(table: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(M,) occupied pixels inside each of (M, 4) boxes; the parts outside the image count as empty."""
    height, width = table.shape[0] - 1, table.shape[1] - 1
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    x0, x1 = np.clip(boxes[:, 0], 0, width), np.clip(boxes[:, 2], 0, width)
    y0, y1 = np.clip(boxes[:, 1], 0, height), np.clip(boxes[:, 3], 0, height)
    return table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]


def _free(boxes: np.ndarray, taken: np.ndarray, image_size: tuple[int, int], margin: int, pad: int
          ) -> np.ndarray:
    """(M,) bool: box inside the image by ``margin`` and at least ``pad`` px clear of every taken box."""
    height, width = image_size
    inside = ((boxes[:, 0] >= margin) & (boxes[:, 1] >= margin)
              & (boxes[:, 2] <= width - margin) & (boxes[:, 3] <= height - margin))
    if len(taken) == 0:
        return inside
    hits = ((boxes[:, None, 0] < taken[None, :, 2] + pad) & (taken[None, :, 0] < boxes[:, None, 2] + pad)
            & (boxes[:, None, 1] < taken[None, :, 3] + pad) & (taken[None, :, 1] < boxes[:, None, 3] + pad))
    return inside & ~hits.any(axis=1)


def _beside(anchors: np.ndarray, size: tuple[int, int], gap: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes at the 8 offsets of every anchor (anchor-major), their cost and their anchor index."""
    w, h = size
    fx, fy, sx, sy = _OFFSETS.T
    x0 = np.round(anchors[:, None, 0] + fx * w + sx * gap)
    y0 = np.round(anchors[:, None, 1] + fy * h + sy * gap)
    boxes = np.stack([x0, y0, x0 + w, y0 + h], axis=-1).reshape(-1, 4).astype(np.int64)
    k = np.repeat(np.arange(len(anchors)), len(_OFFSETS))
    cost = ANCHOR_COST * k + OFFSET_COST * np.tile(np.arange(len(_OFFSETS)), len(anchors))
    return boxes, cost, k


def _anywhere(anchor: np.ndarray, size: tuple[int, int], image_size: tuple[int, int], margin: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Boxes on a grid over the whole image (a third of the box height apart), costed by distance to
    ``anchor`` in box heights (spots that need a leader line)."""
    w, h = size
    step = max(1, h // 3)
    xs = np.arange(margin, image_size[1] - margin - w + 1, step)
    ys = np.arange(margin, image_size[0] - margin - h + 1, step)
    x0, y0 = (grid.ravel() for grid in np.meshgrid(xs, ys))
    boxes = np.stack([x0, y0, x0 + w, y0 + h], axis=1).astype(np.int64)
    distance = np.hypot(x0 + w / 2 - anchor[0], y0 + h / 2 - anchor[1])
    return boxes, LEADER_COST + distance / max(h, 1)


def place_labels(
    anchors: Sequence[np.ndarray],
    sizes: Sequence[tuple[int, int]],
    image_size: tuple[int, int],
    cover_table: np.ndarray | None = None,
    blocked: Sequence[Box] = (),
    gap: int = 3,
    margin: int = 1,
    pad: int = 1,
) -> list[LabelPlacement | None]:
    """Greedy label layout: boxes inside the image that overlap neither each other nor ``blocked``.

    anchors[i]: (K_i, 2) float (x, y) points label i may sit beside, preferred first (a catheter's
    tip, then points along its centreline). sizes[i]: (width, height) of label i's box. Labels
    are placed in the given order (priority first). Each takes the cheapest free spot among the 8
    offsets around each anchor (cost: anchor rank, offset rank and the share of the box over
    occupied pixels of ``cover_table``, (H + 1, W + 1) from ``summed_area``); when none is free,
    the cheapest free spot anywhere in the image (cost: distance to its first anchor and cover),
    with ``leader=True``. None when no spot is free (the caller may retry smaller text with the
    placed boxes as ``blocked``).
    ``gap``: px between anchor and box; ``margin``: px kept from the border; ``pad``: px between boxes.
    """
    taken = [tuple(int(v) for v in b) for b in blocked]
    placements: list[LabelPlacement | None] = []
    for points, size in zip(anchors, sizes):
        points = np.asarray(points, np.float64).reshape(-1, 2)
        w, h = int(size[0]), int(size[1])
        if len(points) == 0 or w + 2 * margin > image_size[1] or h + 2 * margin > image_size[0]:
            placements.append(None)
            continue
        taken_array = np.asarray(taken, np.int64).reshape(-1, 4)
        placement = None
        boxes, cost, k = _beside(points, (w, h), gap)
        free = _free(boxes, taken_array, image_size, margin, pad)
        leader = not free.any()
        if leader:
            boxes, cost = _anywhere(points[0], (w, h), image_size, margin)
            k = np.zeros(len(boxes), np.int64)
            free = _free(boxes, taken_array, image_size, margin, pad)
        if free.any():
            boxes, cost, k = boxes[free], cost[free], k[free]
            if cover_table is not None:
                cost = cost + COVER_COST * box_cover(cover_table, boxes) / float(w * h)
            best = int(np.argmin(cost))  # first of equals: the preferred order
            box = tuple(int(v) for v in boxes[best])
            anchor = (float(points[k[best], 0]), float(points[k[best], 1]))
            placement = LabelPlacement(box, anchor, leader)
            taken.append(box)
        placements.append(placement)
    return placements


def legend_box(
    size: tuple[int, int], image_size: tuple[int, int], cover_table: np.ndarray | None = None, margin: int = 4
) -> Box | None:
    """The corner box of ``size`` (width, height) over the fewest occupied pixels, None when it does
    not fit. Corners in order top-left, top-right, bottom-left, bottom-right; ties go to the first,
    so an empty frame keeps the legend top-left. ``cover_table``: (H + 1, W + 1) from ``summed_area``."""
    height, width = image_size
    w, h = int(size[0]), int(size[1])
    if w + 2 * margin > width or h + 2 * margin > height:
        return None
    left, top, right, bottom = margin, margin, width - margin - w, height - margin - h
    boxes = np.array([(left, top), (right, top), (left, bottom), (right, bottom)], np.int64)
    boxes = np.concatenate([boxes, boxes + [w, h]], axis=1)
    best = 0 if cover_table is None else int(np.argmin(box_cover(cover_table, boxes)))
    return tuple(int(v) for v in boxes[best])
