"""Compiled loops of the per-frame post-processing (Numba).

The post-processing of a frame is a few thousand small steps: every skeleton pixel (about 500 a
frame on a network's masks), every heatmap cell, every electrode against every centreline
segment, a handful of features per catheter. In NumPy each small step is a call with a few
microseconds of overhead, and a walk over pixels does not vectorise at all; together they kept
post-processing + tracking above 4 ms a frame. Each kernel here is the plain loop, compiled once
per machine (``cache=True`` keeps the machine code beside this file, or in Numba's user cache
when the package folder is read-only): the first call in a new installation takes a few
seconds, later processes load it in milliseconds.

The callers keep their NumPy-facing signatures (``centreline.skeleton_graph``,
``assignment.project_to_polylines``, ``catheter_type.mean_type_probabilities``, ...). Sums
follow NumPy's order (``pairwise_sum``), so the kernels give the NumPy versions' results to the
bit, except ``turning_per_pixel``, whose arctan2 may differ from NumPy's vectorised one in the
last bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# skeleton_graph's neighbour columns: the four axial steps first (weight 1), then the diagonals
# (weight sqrt 2): right, down, left, up, down-right, down-left, up-right, up-left.
_ROW_STEP = (0, 1, 0, -1, 1, 1, -1, -1)
_COL_STEP = (1, 0, -1, 0, 1, -1, 1, -1)
AXIAL_STEPS = 4
DIAGONAL_LENGTH = float(np.sqrt(2.0))


@njit(cache=True, nogil=True)
def skeleton_graph(skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel graph of a one-pixel skeleton with m-adjacency.

    skeleton: (H, W) bool. Returns coords (V, 2) int64 (row, col) in row-major order and
    neighbours (V, 8) int64 node ids (-1 where none), columns as ``_ROW_STEP``/``_COL_STEP``. A
    diagonal neighbour is kept only where neither pixel of the 4-neighbour path beside it is on.
    """
    height, width = skeleton.shape
    index = np.full((height, width), -1, np.int64)
    count = 0
    for r in range(height):
        for c in range(width):
            if skeleton[r, c]:
                index[r, c] = count
                count += 1
    coords = np.empty((count, 2), np.int64)
    neighbours = np.full((count, 8), -1, np.int64)
    v = 0
    for r in range(height):
        for c in range(width):
            if not skeleton[r, c]:
                continue
            coords[v, 0], coords[v, 1] = r, c
            for k in range(8):
                rr, cc = r + _ROW_STEP[k], c + _COL_STEP[k]
                if rr < 0 or rr >= height or cc < 0 or cc >= width:
                    continue
                if k >= AXIAL_STEPS and (index[rr, c] >= 0 or index[r, cc] >= 0):
                    continue  # bridged: the 4-neighbour path is the edge
                neighbours[v, k] = index[rr, cc]
            v += 1
    return coords, neighbours


@njit(cache=True, nogil=True)
def chain_graph(neighbours: np.ndarray):
    """Nodes (end points and clusters of adjacent junction pixels) and chains between them.

    neighbours: (V, 8) from ``skeleton_graph``. Returns node_of (V,) int64 (node id per pixel,
    -1 on chains), ends (E, 2) int64 node ids, lengths (E,) float64 pixel-step lengths, offsets
    (E + 1,) int64 and pixels (P,) int64: chain e's pixel ids, from end 0 to end 1, are
    ``pixels[offsets[e]:offsets[e + 1]]``. A closed curve without any node gets one at its
    first pixel. Chains are listed in the order they are traced (nodes by pixel id, each node's
    steps in column order).
    """
    count = neighbours.shape[0]
    is_node = np.zeros(count, np.bool_)
    for v in range(count):
        degree = 0
        for k in range(8):
            if neighbours[v, k] >= 0:
                degree += 1
        is_node[v] = degree != 2
    node_of = np.full(count, -1, np.int64)
    stack = np.empty(max(count, 1), np.int64)
    nodes = 0
    for v in range(count):
        if not is_node[v] or node_of[v] >= 0:
            continue
        node_of[v] = nodes
        stack[0] = v
        top = 1
        while top > 0:  # adjacent junction pixels form one node
            top -= 1
            x = stack[top]
            for k in range(8):
                u = neighbours[x, k]
                if u >= 0 and is_node[u] and node_of[u] < 0:
                    node_of[u] = nodes
                    stack[top] = u
                    top += 1
        nodes += 1
    covered = np.zeros(count, np.bool_)
    walked = np.zeros((count, 8), np.bool_)  # (pixel, column): a chain has left it by that step
    # Every step (pixel, column) starts or ends at most one chain, and a chain's inner pixels
    # are covered once: these bounds are never reached.
    ends = np.empty((8 * count + 1, 2), np.int64)
    lengths = np.empty(8 * count + 1, np.float64)
    offsets = np.zeros(8 * count + 2, np.int64)
    pixels = np.empty(17 * count + 2, np.int64)
    edges = 0
    for sweep in range(2):
        for v in range(count):
            if sweep == 0 and not is_node[v]:
                continue
            if sweep == 1:
                if is_node[v] or covered[v]:
                    continue
                is_node[v] = True  # a closed curve: make v a node and walk round
                node_of[v] = nodes
                nodes += 1
                covered[v] = True
            for k in range(8):
                u = neighbours[v, k]
                if u < 0 or (is_node[u] and node_of[u] == node_of[v]) or walked[v, k]:
                    continue
                at = offsets[edges]
                pixels[at] = v
                pixels[at + 1] = u
                at += 2
                length = 1.0 if k < AXIAL_STEPS else DIAGONAL_LENGTH
                previous, current = v, u
                while not is_node[current]:
                    covered[current] = True
                    moved = False
                    for j in range(8):
                        w = neighbours[current, j]
                        if w >= 0 and w != previous:
                            previous, current = current, w
                            length += 1.0 if j < AXIAL_STEPS else DIAGONAL_LENGTH
                            moved = True
                            break
                    if not moved:  # a degree-2 pixel always has a second neighbour
                        break
                    pixels[at] = current
                    at += 1
                for j in range(8):  # the same chain, walked back from its far end
                    if neighbours[current, j] == previous:
                        walked[current, j] = True
                walked[v, k] = True
                ends[edges, 0], ends[edges, 1] = node_of[v], node_of[current]
                lengths[edges] = length
                edges += 1
                offsets[edges] = at
    return node_of, ends[:edges].copy(), lengths[:edges].copy(), offsets[:edges + 1].copy(), \
        pixels[:offsets[edges]].copy()


@njit(cache=True, nogil=True)
def heatmap_peaks(logits: np.ndarray, cut: float, rows: np.ndarray) -> np.ndarray:
    """Flat indices (ascending) of the cells of (h, w) ``logits`` that are >= ``cut`` and >= each
    of their 8 neighbours (cells outside the map do not count): 3x3 max suppression without the
    map-sized temporaries a NumPy version makes. rows: ascending row numbers to search (those
    whose maximum reaches ``cut``; the caller finds them with one vectorised max).
    """
    height, width = logits.shape
    found = np.empty(64, np.int64)
    count = 0
    for r in rows:
        for c in range(width):
            value = logits[r, c]
            if not value >= cut:
                continue
            peak = True
            for rr in range(max(r - 1, 0), min(r + 2, height)):
                for cc in range(max(c - 1, 0), min(c + 2, width)):
                    if logits[rr, cc] > value:
                        peak = False
            if not peak:
                continue
            if count == len(found):
                grown = np.empty(2 * len(found), np.int64)
                grown[:count] = found
                found = grown
            found[count] = r * width + c
            count += 1
    return found[:count].copy()


@njit(cache=True, nogil=True)
def project_points(points: np.ndarray, vertices: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to each polyline and the arc position of its nearest point there.

    points: (N, 2) float64; vertices: (V, 2) float64, the polylines one after another, polyline c
    being ``vertices[bounds[c]:bounds[c + 1]]`` (a single vertex is a zero-length segment; none:
    distance inf, arc NaN). Returns (C, N) distances and arcs (pixels from the polyline's start).
    The nearest segment is the first of the smallest distance; the arithmetic is the vectorised
    NumPy version's, operation for operation, so the results are the same to the bit.
    """
    lines, count = len(bounds) - 1, len(points)
    distance = np.full((lines, count), np.inf)
    arc = np.full((lines, count), np.nan)
    for c in range(lines):
        low, high = bounds[c], bounds[c + 1]
        if high == low:
            continue
        segments = max(high - low - 1, 1)
        for i in range(count):
            px, py = points[i, 0], points[i, 1]
            best_gap, best_t, best_len, best_arc = np.inf, 0.0, 0.0, 0.0
            travelled = 0.0
            for k in range(segments):
                ax, ay = vertices[low + k, 0], vertices[low + k, 1]
                if high - low == 1:
                    dx = dy = 0.0
                else:
                    dx, dy = vertices[low + k + 1, 0] - ax, vertices[low + k + 1, 1] - ay
                seg_sq = dx * dx + dy * dy
                rx, ry = px - ax, py - ay
                t = (rx * dx + ry * dy) / max(seg_sq, 1e-12)
                t = min(max(t, 0.0), 1.0)
                gx, gy = rx - t * dx, ry - t * dy
                gap = gx * gx + gy * gy
                if gap < best_gap:
                    best_gap, best_t, best_len, best_arc = gap, t, seg_sq, travelled
                travelled += np.sqrt(seg_sq)
            distance[c, i] = np.sqrt(best_gap)
            arc[c, i] = best_arc + best_t * np.sqrt(best_len)
    return distance, arc


@njit(cache=True, nogil=True)
def _block_sum(values, low, count, zero):
    """NumPy's sum of at most 128 values: plain below 8, else 8 partial sums then the rest."""
    if count < 8:
        total = zero
        for i in range(count):
            total += values[low + i]
        return total
    r0, r1, r2, r3 = values[low], values[low + 1], values[low + 2], values[low + 3]
    r4, r5, r6, r7 = values[low + 4], values[low + 5], values[low + 6], values[low + 7]
    i = 8
    while i < count - count % 8:
        r0 += values[low + i]
        r1 += values[low + i + 1]
        r2 += values[low + i + 2]
        r3 += values[low + i + 3]
        r4 += values[low + i + 4]
        r5 += values[low + i + 5]
        r6 += values[low + i + 6]
        r7 += values[low + i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < count:
        total += values[low + i]
        i += 1
    return total


@njit(cache=True, nogil=True)
def pairwise_sum(values: np.ndarray, zero):
    """Sum of a 1-D array in NumPy's order (pairwise: halves cut at multiples of 8 down to blocks
    of 128, ``_block_sum`` within them) and in the values' precision (``zero``: 0 of their type),
    so that compiled features equal the NumPy ones to the bit. Iterative (no recursion in Numba)."""
    count = len(values)
    if count <= 128:
        return _block_sum(values, 0, count, zero)
    lows = np.empty(128, np.int64)
    counts = np.empty(128, np.int64)
    combine = np.zeros(128, np.bool_)
    partial = np.empty(128, values.dtype)
    lows[0], counts[0], combine[0] = 0, count, False
    top, done = 1, 0
    while top > 0:
        top -= 1
        low, size, join = lows[top], counts[top], combine[top]
        if join:  # both halves summed: the right one is on top
            partial[done - 2] = partial[done - 2] + partial[done - 1]
            done -= 1
        elif size <= 128:
            partial[done] = _block_sum(values, low, size, zero)
            done += 1
        else:
            half = size // 2
            half -= half % 8
            lows[top], counts[top], combine[top] = low, size, True
            lows[top + 1], counts[top + 1], combine[top + 1] = low + half, size - half, False
            lows[top + 2], counts[top + 2], combine[top + 2] = low, half, False
            top += 3
    return partial[0]


@njit(cache=True, nogil=True)
def cell_means(probabilities: np.ndarray, points: np.ndarray, height: int, width: int) -> np.ndarray:
    """(T,) float32 mean of (T, h, w) float32 per-cell ``probabilities`` over the cells that
    (M, 2) float64 points (x, y, pixels of an H x W frame) fall in, each cell once, cells in
    row-major order (``catheter_type.mean_type_probabilities``)."""
    classes, rows, cols = probabilities.shape
    crossed = np.zeros(rows * cols, np.bool_)
    for i in range(len(points)):
        col = min(max(np.floor(points[i, 0] * cols / max(width, 1)), 0.0), cols - 1.0)
        row = min(max(np.floor(points[i, 1] * rows / max(height, 1)), 0.0), rows - 1.0)
        crossed[int(row) * cols + int(col)] = True
    cells = np.flatnonzero(crossed)
    flat = probabilities.reshape(classes, rows * cols)
    means = np.empty(classes, np.float32)
    for t in range(classes):
        # one running float32 sum per class, cell after cell: the order NumPy's mean takes over
        # the (T, cells) gather, which it reduces along its outer axis
        total = np.float32(0.0)
        for j in range(len(cells)):
            total += flat[t, cells[j]]
        means[t] = total / np.float32(len(cells))
    return means


@njit(cache=True, nogil=True)
def polyline_length(points: np.ndarray) -> float:
    """Sum of the segment lengths of an (M, 2) polyline, in its points' precision."""
    count = len(points)
    if count < 2:
        return 0.0
    steps = np.empty(count - 1, points.dtype)
    for i in range(count - 1):
        steps[i] = np.hypot(points[i + 1, 0] - points[i, 0], points[i + 1, 1] - points[i, 1])
    return pairwise_sum(steps, steps[0] - steps[0])


@njit(cache=True, nogil=True)
def turning_per_pixel(points: np.ndarray) -> float:
    """``geometry.turning_per_pixel`` of an (M, 2) float64 polyline: mean absolute change of
    heading, radians per pixel of its length (zero-length steps skipped; 0.0 with < 2 steps)."""
    count = len(points)
    dx = np.empty(max(count - 1, 0))
    dy = np.empty(max(count - 1, 0))
    length = np.empty(max(count - 1, 0))
    kept = 0
    for i in range(count - 1):
        sx, sy = points[i + 1, 0] - points[i, 0], points[i + 1, 1] - points[i, 1]
        step = np.hypot(sx, sy)
        if step > 1e-9:
            dx[kept], dy[kept], length[kept] = sx, sy, step
            kept += 1
    if kept < 2:
        return 0.0
    turns = np.empty(kept - 1)
    for i in range(kept - 1):
        cross = dx[i] * dy[i + 1] - dy[i] * dx[i + 1]
        dot = dx[i] * dx[i + 1] + dy[i] * dy[i + 1]
        turns[i] = abs(np.arctan2(cross, dot))
    return pairwise_sum(turns[:kept - 1], 0.0) / pairwise_sum(length[:kept], 0.0)

