"""Compiled loops of the per-frame post-processing (Numba).

The post-processing of a frame is a few thousand small steps: every skeleton pixel (about 500 a
frame on a network's masks), every heatmap cell, every electrode against every centreline
segment, a handful of features per catheter and per track. In NumPy each small step is a call
with a few microseconds of overhead, and a walk over pixels does not vectorise at all; together
they kept post-processing + tracking above 4 ms a frame. Each kernel here is the plain loop,
compiled once per machine and kept (``CACHE``: beside this file, else in Numba's user cache or
the temporary folder): the first call in a new installation takes a few seconds, later
processes load the machine code.

The callers keep their NumPy-facing signatures (``centreline.extract_centrelines``,
``assignment.project_to_polylines``, ``catheter_type.mean_type_probabilities``, ...). Sums
follow NumPy's order (``pairwise_sum``), so the kernels give the NumPy versions' results to the
bit, except where NumPy's vectorised exp, log and arctan2 differ from the C library's in the
last bit (peak scores and offsets, the electrode pattern's alternation, turning).

Length (about 1,450 lines, in sections: pixel graph, peaks, projection and polyline geometry,
centreline paths, features, tracker): one file on purpose. Numba keys its cache on the modified
time of the file a function is defined in, not of the files it calls into, so kernels calling
each other across modules could load stale machine code after an edit; within one file any edit
recompiles them all.
"""

from __future__ import annotations

import heapq
import tempfile
from pathlib import Path

import numpy as np
from numba import njit

def writable_folder(folder: Path) -> bool:
    """Whether ``folder`` exists or can be made, and a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _choose_cache() -> bool:
    """Where Numba keeps the machine code: beside this file, else in its user cache, else (a
    read-only installation without a writable home) in the temporary folder; False: nowhere
    writable, compile in every process. Without this, Numba refuses to import the module there."""
    from numba.core import config
    from numba.misc.appdirs import AppDirs

    if config.CACHE_DIR:
        return True
    if writable_folder(Path(__file__).parent / "__pycache__") or \
            writable_folder(Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)):
        return True
    fallback = Path(tempfile.gettempdir()) / "cathx-numba-cache"
    if writable_folder(fallback):
        config.CACHE_DIR = str(fallback)
        return True
    return False


CACHE = _choose_cache()

# skeleton_graph's neighbour columns: the four axial steps first (weight 1), then the diagonals
# (weight sqrt 2): right, down, left, up, down-right, down-left, up-right, up-left.
_ROW_STEP = (0, 1, 0, -1, 1, 1, -1, -1)
_COL_STEP = (1, 0, -1, 0, 1, -1, 1, -1)
AXIAL_STEPS = 4
DIAGONAL_LENGTH = float(np.sqrt(2.0))


@njit(cache=CACHE, nogil=True)
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


@njit(cache=CACHE, nogil=True)
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


@njit(cache=CACHE, nogil=True)
def heatmap_peaks(logits: np.ndarray, cut: float) -> np.ndarray:
    """Flat indices (ascending) of the cells of (h, w) ``logits`` that are >= ``cut`` and >= each
    of their 8 neighbours (cells outside the map do not count): 3x3 max suppression without the
    map-sized temporaries a NumPy version makes."""
    height, width = logits.shape
    hit = np.zeros(height, np.bool_)
    for r in range(height):  # which rows hold a cell at or above the cut (a loop that vectorises)
        found_one = False
        for c in range(width):
            found_one |= logits[r, c] >= cut
        hit[r] = found_one
    found = np.empty(64, np.int64)
    count = 0
    for r in np.flatnonzero(hit):
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


_LOG_TWO = float(np.log(2.0))
_LOG_FLOOR = float(np.log(1e-12))


@njit(cache=CACHE, nogil=True)
def _log_sigmoid(x: float) -> float:
    """log(max(sigmoid(x), 1e-12)) as -logaddexp(0, -x), NumPy's logaddexp formula."""
    y = -x
    if y == 0.0:
        value = _LOG_TWO
    elif y > 0.0:
        value = y + np.log1p(np.exp(-y))
    else:
        value = np.log1p(np.exp(y))
    return max(-value, _LOG_FLOOR)


@njit(cache=CACHE, nogil=True)
def _refine(logits, row, col, axis):
    """Sub-cell offset of a peak along one axis (0: y, 1: x) from the parabola through the
    log-sigmoids of its cell and the two neighbours (no concave fit: 0), within +-0.5."""
    length = logits.shape[axis]
    if length < 3:
        return 0.0
    position = row if axis == 0 else col
    middle = min(max(position, 1), length - 2)
    if axis == 0:
        before, centre, after = logits[middle - 1, col], logits[middle, col], logits[middle + 1, col]
    else:
        before, centre, after = logits[row, middle - 1], logits[row, middle], logits[row, middle + 1]
    before, centre, after = _log_sigmoid(float(before)), _log_sigmoid(float(centre)), _log_sigmoid(float(after))
    curvature = before - 2 * centre + after
    if not curvature < -1e-6:
        return 0.0
    offset = (middle - position) + 0.5 * (before - after) / curvature
    return min(max(offset, -0.5), 0.5)


@njit(cache=CACHE, nogil=True)
def decode_peaks(logits: np.ndarray, size: np.ndarray, cut: float, k: int, stride: int) -> np.ndarray:
    """Electrode peaks of one (h, w) float32 heatmap of logits: (K, 5) float32 [x, y, score, w, h]
    in input pixels, by decreasing score (ties: by cell order).

    The local maxima at or above ``cut`` (``heatmap_peaks``), the ``k`` highest, each refined
    to sub-cell precision (``_refine``) and scored by its sigmoid; box sizes read from the (2, h,
    w) float32 ``size`` map at the peak (an empty array: zeros). Cell (row, col) maps to pixel
    (col + dx) * stride + (stride - 1) / 2.
    """
    width = logits.shape[1]
    index = heatmap_peaks(logits, cut)
    values = np.empty(len(index))
    for i in range(len(index)):
        values[i] = -logits[index[i] // width, index[i] % width]
    order = np.argsort(values, kind="mergesort")[:k]  # stable: equal scores keep their cell order
    found = np.empty((len(order), 5), np.float32)
    centre = (stride - 1) / 2
    for j in range(len(order)):
        cell = index[order[j]]
        row, col = cell // width, cell % width
        # the offsets in float32 first, as the NumPy decoder kept them
        found[j, 0] = (col + np.float64(np.float32(_refine(logits, row, col, 1)))) * stride + centre
        found[j, 1] = (row + np.float64(np.float32(_refine(logits, row, col, 0)))) * stride + centre
        found[j, 2] = 1.0 / (1.0 + np.exp(-float(logits[row, col])))
        if size.shape[0] >= 2:
            found[j, 3], found[j, 4] = size[0, row, col], size[1, row, col]
        else:
            found[j, 3] = found[j, 4] = 0.0
    return found


@njit(cache=CACHE, nogil=True)
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


@njit(cache=CACHE, nogil=True)
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


@njit(cache=CACHE, nogil=True)
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


@njit(cache=CACHE, nogil=True)
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


@njit(cache=CACHE, nogil=True)
def polyline_length(points: np.ndarray) -> float:
    """Sum of the segment lengths of an (M, 2) polyline, in its points' precision."""
    count = len(points)
    if count < 2:
        return 0.0
    steps = np.empty(count - 1, points.dtype)
    for i in range(count - 1):
        steps[i] = np.hypot(points[i + 1, 0] - points[i, 0], points[i + 1, 1] - points[i, 1])
    return pairwise_sum(steps, steps[0] - steps[0])


@njit(cache=CACHE, nogil=True)
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


# ----------------------------------------------------------------------------- centreline paths
# The chain graph's edges in parallel arrays with room for the edges merging adds (each merge
# kills two edges and adds one, so at most as many merges as edges): end nodes, length, alive,
# and where the edge's pixel ids (from end a to end b) lie in one flat, growing pixel buffer.


@njit(cache=CACHE, nogil=True)
def _incidence(ends, alive, count, node_count, room):
    """Per node, the alive edges touching it in edge order (a self-loop twice), as rows of a
    table with ``room`` spare columns for edges added later (the merge widens it when a row
    fills), their counts, and the nodes in the
    order they were first met (a's before b's): the order a dict filled edge by edge has."""
    degree = np.zeros(node_count, np.int64)
    for i in range(count):
        if alive[i]:
            degree[ends[i, 0]] += 1
            degree[ends[i, 1]] += 1
    table = np.empty((node_count, max(degree.max() if node_count else 0, 1) + room), np.int64)
    filled = np.zeros(node_count, np.int64)
    order = np.empty(node_count, np.int64)
    met = 0
    for i in range(count):
        if not alive[i]:
            continue
        for side in range(2):
            node = ends[i, side]
            if filled[node] == 0:
                order[met] = node
                met += 1
            table[node, filled[node]] = i
            filled[node] += 1
    return table, filled, order[:met]


@njit(cache=CACHE, nogil=True)
def _oriented(ends, where, pixels, edge, start):
    """Pixel ids of ``edge`` from node ``start`` to its other end (a view)."""
    chain = pixels[where[edge, 0]:where[edge, 0] + where[edge, 1]]
    return chain if ends[edge, 0] == start else chain[::-1]


@njit(cache=CACHE, nogil=True)
def _other(ends, edge, node):
    return ends[edge, 1] if ends[edge, 0] == node else ends[edge, 0]


@njit(cache=CACHE, nogil=True)
def _farthest(ends, lengths, usable, table, filled, node_count, start):
    """Dijkstra over usable edges from ``start``: (farthest node, predecessor edge per node).
    Ties: the heap orders by (distance, node); the farthest is the first reached of the most
    distant (as ``max`` over a dict filled as nodes are reached)."""
    distance = np.full(node_count, np.inf)
    previous = np.full(node_count, -1, np.int64)
    reached = np.empty(node_count, np.int64)
    distance[start] = 0.0
    reached[0] = start
    count = 1
    queue = [(0.0, start)]
    while len(queue):
        d, node = heapq.heappop(queue)
        if d > distance[node]:
            continue
        for k in range(filled[node]):
            i = table[node, k]
            if not usable[i]:
                continue
            other = _other(ends, i, node)
            nd = d + lengths[i]
            if nd < distance[other]:
                if distance[other] == np.inf:
                    reached[count] = other
                    count += 1
                distance[other], previous[other] = nd, i
                heapq.heappush(queue, (nd, other))
    far = reached[0]
    for j in range(count):
        if distance[reached[j]] > distance[far]:
            far = reached[j]
    return far, previous


@njit(cache=CACHE, nogil=True)
def _straighten(ends, where, pixels, usable, table, filled, coords, start, first, limit, reach, nodes, path):
    """Walk from node ``start`` along edge ``first``; at every junction continue into the unused
    usable edge that turns least, while its cosine with the way in beats ``limit``. Fills
    ``nodes`` and ``path`` (arrays with room); returns the number of edges taken."""
    used = np.zeros(len(usable), np.bool_)
    nodes[0], path[0] = start, first
    used[first] = True
    node = _other(ends, first, start)
    nodes[1] = node
    taken = 1
    while True:
        chain = _oriented(ends, where, pixels, path[taken - 1], nodes[taken - 1])
        back = chain[max(0, len(chain) - 1 - reach)]
        tail_x = coords[chain[-1], 0] - coords[back, 0]
        tail_y = coords[chain[-1], 1] - coords[back, 1]
        best, best_cos = -1, limit
        for k in range(filled[node]):
            i = table[node, k]
            if used[i] or not usable[i]:
                continue
            out = _oriented(ends, where, pixels, i, node)
            ahead = out[min(len(out) - 1, reach)]
            head_x, head_y = coords[ahead, 0] - coords[out[0], 0], coords[ahead, 1] - coords[out[0], 1]
            norm = np.hypot(float(tail_x), float(tail_y)) * np.hypot(float(head_x), float(head_y))
            cos = float(tail_x * head_x + tail_y * head_y) / norm if norm > 0 else -1.0
            if cos > best_cos:
                best, best_cos = i, cos
        if best < 0:
            return taken
        used[best] = True
        path[taken] = best
        node = _other(ends, best, node)
        taken += 1
        nodes[taken] = node


@njit(cache=CACHE, nogil=True)
def _path_pixels(ends, where, pixels, nodes, path, taken, line, at):
    """Pixel ids along a node/edge path (shared end pixels once) into ``line``, and where each
    node is reached into ``at``; returns the pixel count."""
    count = 0
    at[0] = 0
    for k in range(taken):
        chain = _oriented(ends, where, pixels, path[k], nodes[k])
        skip = 1 if count and chain[0] == line[count - 1] else 0
        for j in range(skip, len(chain)):
            line[count] = chain[j]
            count += 1
        at[k + 1] = count - 1
    return count


@njit(cache=CACHE, nogil=True)
def _index_of(values, count, wanted):
    for i in range(count):
        if values[i] == wanted:
            return i
    return -1


@njit(cache=CACHE, nogil=True)
def centreline_paths(coords, chain_ends, chain_lengths, offsets, chain_pixels, min_length, min_branch, straight,
                     max_turn, reach):
    """Ordered pixel paths of every catheter in a chain graph (``chain_graph``'s output).

    Prunes end branches shorter than ``min_branch`` that hang off a junction (two passes, chains
    merged through nodes left with two branches), then covers the graph piece by piece: a piece
    that is one chain is that chain; otherwise the longest shortest path from the piece's first
    edge, continued (``straight``) from its first end into the branch that turns least at every
    junction while it turns less than ``max_turn`` degrees (direction over ``reach`` pixels). A
    chain leaving the path's last node and returning to a node on it closes a loop. Single chains
    shorter than ``min_length`` are skipped (their piece number is used up all the same).

    Returns, per path found: pixel ids (``path_pixels[path_offsets[p]:path_offsets[p + 1]]``),
    closed flags, piece numbers, and the positions in the path of its inner nodes where three or
    more branches meet (``junction_at[junction_offsets[p]:junction_offsets[p + 1]]``).
    """
    first_count = len(chain_lengths)
    room = 2 * first_count + 2  # the chains and those merging adds
    ends = np.empty((room, 2), np.int64)
    lengths = np.empty(room)
    alive = np.zeros(room, np.bool_)
    where = np.empty((room, 2), np.int64)  # (start in pixels, count)
    pixels = np.empty(2 * len(chain_pixels) + 16, np.int64)
    used_pixels = len(chain_pixels)
    pixels[:used_pixels] = chain_pixels
    node_count = 0
    for e in range(first_count):
        ends[e, 0], ends[e, 1] = chain_ends[e, 0], chain_ends[e, 1]
        lengths[e] = chain_lengths[e]
        alive[e] = True
        where[e, 0], where[e, 1] = offsets[e], offsets[e + 1] - offsets[e]
        node_count = max(node_count, ends[e, 0] + 1, ends[e, 1] + 1)
    count = first_count
    for _ in range(2):  # prune spurs; a second pass catches spurs the first uncovers
        table, filled, order = _incidence(ends, alive, count, node_count, 0)
        changed = False
        for e in range(count):
            if not alive[e] or lengths[e] >= min_branch or ends[e, 0] == ends[e, 1]:
                continue
            da, db = filled[ends[e, 0]], filled[ends[e, 1]]
            if (da == 1 and db >= 3) or (db == 1 and da >= 3):
                alive[e] = False
                changed = True
        if not changed:
            break
        # Join the two chains meeting at every node left with two (a new edge each).
        table, filled, order = _incidence(ends, alive, count, node_count, 2)
        for node in order:
            first = second = -1
            members = 0
            for k in range(filled[node]):
                i = table[node, k]
                if alive[i]:
                    members += 1
                    if members == 1:
                        first = i
                    elif members == 2:
                        second = i
            if members != 2 or first == second:
                continue
            start, end = _other(ends, first, node), _other(ends, second, node)
            head = _oriented(ends, where, pixels, first, start)  # ends at node
            tail = _oriented(ends, where, pixels, second, node)  # starts at node
            size = len(head) + len(tail) - 1
            if used_pixels + size > len(pixels):
                grown = np.empty(2 * (used_pixels + size), np.int64)
                grown[:used_pixels] = pixels[:used_pixels]
                pixels = grown
                head = _oriented(ends, where, pixels, first, start)
                tail = _oriented(ends, where, pixels, second, node)
            pixels[used_pixels:used_pixels + len(head)] = head
            pixels[used_pixels + len(head):used_pixels + size] = tail[1:]
            alive[first] = alive[second] = False
            ends[count, 0], ends[count, 1] = start, end
            lengths[count] = lengths[first] + lengths[second]
            alive[count] = True
            where[count, 0], where[count, 1] = used_pixels, size
            used_pixels += size
            for node_end in (start, end):
                if filled[node_end] == table.shape[1]:  # a row is full: double the table's width
                    wider = np.empty((table.shape[0], 2 * table.shape[1]), np.int64)
                    wider[:, :table.shape[1]] = table
                    table = wider
                table[node_end, filled[node_end]] = count
                filled[node_end] += 1
            count += 1
    table, filled, order = _incidence(ends, alive, count, node_count, 0)
    remaining = alive[:count].copy()
    left = int(remaining.sum())
    limit = np.cos(np.radians(max_turn))
    nodes = np.empty(count + 2, np.int64)
    path = np.empty(count + 1, np.int64)
    line = np.empty(used_pixels + 1, np.int64)
    joined = np.empty(used_pixels + 1, np.int64)
    at = np.empty(count + 2, np.int64)
    out_pixels = np.empty(used_pixels + 1, np.int64)
    out_offsets = np.zeros(count + 1, np.int64)
    out_closed = np.zeros(count, np.bool_)
    out_pieces = np.empty(count, np.int64)
    out_junctions = np.empty(count + 2, np.int64)
    junction_offsets = np.zeros(count + 1, np.int64)
    found = piece = junctions = 0
    seed = 0
    while left > 0:
        while not remaining[seed]:
            seed += 1
        a, b = ends[seed, 0], ends[seed, 1]
        if a != b and filled[a] == 1 and filled[b] == 1:
            # one chain: the path is the chain, as the searches would find it
            remaining[seed] = False
            left -= 1
            if lengths[seed] < min_length - 1e-6:
                piece += 1
                continue
            nodes[0], nodes[1], path[0] = b, a, seed
            taken = 1
        else:
            first, _ = _farthest(ends, lengths, remaining, table, filled, node_count, a)
            last, previous = _farthest(ends, lengths, remaining, table, filled, node_count, first)
            taken = 0
            node = last
            while node != first:  # the path from first to last, written backwards from the end
                taken += 1
                node = _other(ends, previous[node], node)
            node = last
            nodes[taken] = last
            for k in range(taken - 1, -1, -1):
                path[k] = previous[node]
                node = _other(ends, path[k], node)
                nodes[k] = node
            if taken == 0:  # an isolated closed curve: one self-loop edge
                nodes[0], nodes[1], path[0] = a, a, seed
                taken = 1
            elif straight:
                taken = _straighten(ends, where, pixels, remaining, table, filled, coords, nodes[0], path[0], limit,
                                    reach, nodes, path)
        for k in range(taken):
            if remaining[path[k]]:
                remaining[path[k]] = False
                left -= 1
        size = _path_pixels(ends, where, pixels, nodes, path, taken, line, at)
        closed = False
        for j in range(taken + 1):
            for k in range(j):
                if nodes[k] == nodes[j]:
                    closed = True
        if not closed:  # a loop hanging off the end of this line
            for i in np.flatnonzero(remaining):
                ia, ib = _index_of(nodes, taken + 1, ends[i, 0]), _index_of(nodes, taken + 1, ends[i, 1])
                if ia < 0 or ib < 0:
                    continue
                low, high = min(ia, ib), max(ia, ib)
                if low == 0 and high != taken:
                    nodes[:taken + 1] = nodes[:taken + 1][::-1].copy()
                    path[:taken] = path[:taken][::-1].copy()
                    size = _path_pixels(ends, where, pixels, nodes, path, taken, line, at)
                    low, high = taken - high, taken - low
                if high != taken or lengths[i] < min_length:
                    continue
                end, back = nodes[high], nodes[low]
                loop = _oriented(ends, where, pixels, i, end)
                kept = at[high] + 1
                joined[:kept] = line[:kept]
                joined[kept:kept + len(loop) - 1] = loop[1:]
                grown = kept + len(loop) - 1
                if back != end:
                    joined[grown] = line[at[low]]
                    grown += 1
                line, joined = joined, line
                size = grown
                remaining[i] = False
                left -= 1
                closed = True
                break
        start = out_offsets[found]
        if start + size > len(out_pixels):
            bigger = np.empty(2 * (start + size), np.int64)
            bigger[:start] = out_pixels[:start]
            out_pixels = bigger
        out_pixels[start:start + size] = line[:size]
        out_offsets[found + 1] = start + size
        out_closed[found] = closed
        out_pieces[found] = piece
        for k in range(1, taken):
            if filled[nodes[k]] >= 3:
                if junctions == len(out_junctions):
                    more = np.empty(2 * junctions, np.int64)
                    more[:junctions] = out_junctions
                    out_junctions = more
                out_junctions[junctions] = at[k]
                junctions += 1
        junction_offsets[found + 1] = junctions
        found += 1
        piece += 1
    return (out_pixels[:out_offsets[found]].copy(), out_offsets[:found + 1].copy(), out_closed[:found].copy(),
            out_pieces[:found].copy(), out_junctions[:junctions].copy(), junction_offsets[:found + 1].copy())


@njit(cache=CACHE, nogil=True)
def _interpolate(x, xp, fp, j):
    """``np.interp`` at one x for ascending ``xp`` (repeats allowed), searching from index ``j``
    upwards (the caller's x increase): (value, j). NumPy's arithmetic and end rules."""
    last = len(xp) - 1
    if x > xp[last]:
        return fp[last], j
    if x < xp[0]:
        return fp[0], j
    while j < last and xp[j + 1] <= x:  # the last index whose xp is <= x
        j += 1
    if j == last or xp[j] == x:
        return fp[j], j
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    value = slope * (x - xp[j]) + fp[j]
    if np.isnan(value):
        value = slope * (x - xp[j + 1]) + fp[j + 1]
        if np.isnan(value) and fp[j] == fp[j + 1]:
            value = fp[j]
    return value, j


@njit(cache=CACHE, nogil=True)
def resample_polyline(points: np.ndarray, count: int) -> np.ndarray:
    """(M >= 2, 2) polyline -> (count, 2) float32 points evenly spaced by arc length (linear
    between the vertices as ``np.interp``, the arc in float64)."""
    size = len(points)
    arc = np.zeros(size)
    xs = np.empty(size)
    ys = np.empty(size)
    for i in range(size):
        xs[i], ys[i] = points[i, 0], points[i, 1]
    for i in range(size - 1):
        arc[i + 1] = arc[i] + np.hypot(xs[i + 1] - xs[i], ys[i + 1] - ys[i])
    spacing = arc[-1] / max(count - 1, 1)
    out = np.empty((count, 2), np.float32)
    j = 0
    for k in range(count):
        at = k * spacing
        out[k, 0], _ = _interpolate(at, arc, xs, j)
        out[k, 1], j = _interpolate(at, arc, ys, j)
    return out


@njit(cache=CACHE, nogil=True)
def _median(values: np.ndarray) -> float:
    """``geometry.median`` of a 1-D array: the middle value after a sort, or the mean of the two."""
    ordered = np.sort(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])


@njit(cache=CACHE, nogil=True)
def template_shift(points: np.ndarray, template: np.ndarray, miss_cost: float, shift_weight: float):
    """The motion left over between a detection's electrodes and a track's slots
    (``tracking.align_to_template``'s first step), and each point's distance to each slot once
    it is removed.

    points: (N, 2), template: (M, 2) float64, both non-empty. Every shift that puts one point on
    one slot within ``miss_cost`` (and no shift) is scored by the mean distance from the shifted
    points to their nearest slot, clipped at ``miss_cost / 2``, plus ``shift_weight`` times its
    length; the best is then re-centred on the median offset of the points within the gate.
    Returns (gap (N, M) float64, shift (2,) float64).
    """
    n, m = len(points), len(template)
    gate = 0.5 * miss_cost
    step = np.empty((n, m, 2))
    distance = np.empty((n, m))
    clipped = np.empty(n)
    for i in range(n):
        nearest = np.inf
        for j in range(m):
            step[i, j, 0] = points[i, 0] - template[j, 0]
            step[i, j, 1] = points[i, 1] - template[j, 1]
            distance[i, j] = np.hypot(step[i, j, 0], step[i, j, 1])
            nearest = min(nearest, distance[i, j])
        clipped[i] = min(nearest, gate)
    best_cost = pairwise_sum(clipped, 0.0) / n  # the zero shift's
    shift_x = shift_y = 0.0
    # A shift costs at least shift_weight * |shift|: none longer than the zero shift's whole cost
    # over shift_weight can beat it (ties go to the zero shift).
    chosen, chosen_cost = -1, np.inf
    for i in range(n):
        for j in range(m):
            length = distance[i, j]
            if not length <= miss_cost or (shift_weight > 0 and not shift_weight * length < best_cost):
                continue
            sx, sy = step[i, j, 0], step[i, j, 1]
            for a in range(n):
                closest = np.inf
                for b in range(m):
                    dx = (points[a, 0] - sx) - template[b, 0]
                    dy = (points[a, 1] - sy) - template[b, 1]
                    closest = min(closest, dx * dx + dy * dy)
                clipped[a] = min(np.sqrt(closest), gate)
            cost = pairwise_sum(clipped, 0.0) / n + shift_weight * length
            if cost < chosen_cost:
                chosen, chosen_cost = i * m + j, cost
    if chosen >= 0 and chosen_cost < best_cost:
        shift_x, shift_y = step[chosen // m, chosen % m, 0], step[chosen // m, chosen % m, 1]
    gap = np.empty((n, m))
    inside_x = np.empty(n * m)
    inside_y = np.empty(n * m)
    inside = 0
    for i in range(n):
        for j in range(m):
            ox, oy = step[i, j, 0] - shift_x, step[i, j, 1] - shift_y
            gap[i, j] = np.hypot(ox, oy)
            if gap[i, j] <= gate:
                inside_x[inside], inside_y[inside] = ox, oy
                inside += 1
    if inside:  # re-centre on the points that fit
        shift_x = shift_x + _median(inside_x[:inside])
        shift_y = shift_y + _median(inside_y[:inside])
        for i in range(n):
            for j in range(m):
                gap[i, j] = np.hypot(step[i, j, 0] - shift_x, step[i, j, 1] - shift_y)
    shift = np.empty(2)
    shift[0], shift[1] = shift_x, shift_y
    return gap, shift


@njit(cache=CACHE, nogil=True)
def min_cost_assignment(cost: np.ndarray) -> np.ndarray:
    """Each row's column at the least total cost, every row assigned, no column twice.

    cost: (N, M) float64 with N <= M, finite. Returns (N,) int64 columns. The shortest augmenting
    path method (Crouse 2016, the one SciPy's ``linear_sum_assignment`` implements), rows added
    one at a time, each by a Dijkstra search over reduced costs from that row to a free column.
    Where several assignments cost the same, it picks the one SciPy picks: the search scans the
    columns not yet reached last-first, takes a free column over a held one at an equal distance,
    and refills the scanned list by moving its last entry into the taken place. (The tracker's
    alignment makes such ties on purpose: two points in one slot's gate are re-centred to lie
    symmetrically about it.) For the tracker's small matrices, in place of SciPy's call, whose
    overhead costs more than the solve there.
    """
    rows, columns = cost.shape
    row_potential = np.zeros(rows)
    column_potential = np.zeros(columns)
    distance = np.empty(columns)
    reached_by = np.full(columns, -1, np.int64)  # the row the search reached each column from
    column_of = np.full(rows, -1, np.int64)
    row_of = np.full(columns, -1, np.int64)
    row_seen = np.zeros(rows, np.bool_)
    column_seen = np.zeros(columns, np.bool_)
    unreached = np.empty(columns, np.int64)
    for start in range(rows):
        distance[:] = np.inf
        row_seen[:] = False
        column_seen[:] = False
        for k in range(columns):
            unreached[k] = columns - 1 - k
        left = columns
        row, sink, reach = start, -1, 0.0
        while sink < 0:
            row_seen[row] = True
            nearest, at = np.inf, -1
            for k in range(left):
                j = unreached[k]
                reduced = reach + cost[row, j] - row_potential[row] - column_potential[j]
                if reduced < distance[j]:
                    reached_by[j], distance[j] = row, reduced
                if distance[j] < nearest or (distance[j] == nearest and row_of[j] < 0):
                    nearest, at = distance[j], k
            reach = nearest
            j = unreached[at]
            if row_of[j] < 0:
                sink = j
            else:
                row = row_of[j]
            column_seen[j] = True
            left -= 1
            unreached[at] = unreached[left]
        row_potential[start] += reach
        for i in range(rows):
            if row_seen[i] and i != start:
                row_potential[i] += reach - distance[column_of[i]]
        for j in range(columns):
            if column_seen[j]:
                column_potential[j] -= reach - distance[j]
        j = sink
        while True:  # flip the path: each row on it takes the column it was reached through
            i = reached_by[j]
            row_of[j] = i
            j, column_of[i] = column_of[i], j
            if i == start:
                break
    return column_of


@njit(cache=CACHE, nogil=True)
def centreline_shift(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``tracking.centreline_shift`` of two non-empty resampled centrelines of one length, (K, 2)
    float64: the mean point shift from ``before`` to ``after`` or to ``after`` reversed, whichever
    moves the points less on average. NumPy's sums: pairwise over the K distances, row by row
    for the mean shift (a reduction over the outer axis). Returns (2,) float64."""
    count = len(before)
    forward = np.empty(count)
    backward = np.empty(count)
    for k in range(count):
        fx, fy = after[k, 0] - before[k, 0], after[k, 1] - before[k, 1]
        back = count - 1 - k
        bx, by = after[back, 0] - before[k, 0], after[back, 1] - before[k, 1]
        forward[k] = np.sqrt(fx * fx + fy * fy)
        backward[k] = np.sqrt(bx * bx + by * by)
    reverse = pairwise_sum(forward, 0.0) / count > pairwise_sum(backward, 0.0) / count
    shift = np.zeros(2)
    for k in range(count):
        source = count - 1 - k if reverse else k
        shift[0] += after[source, 0] - before[k, 0]
        shift[1] += after[source, 1] - before[k, 1]
    shift[0] /= count
    shift[1] /= count
    return shift


@njit(cache=CACHE, nogil=True)
def chamfer(points: np.ndarray, reference: np.ndarray, use_median: bool) -> float:
    """``tracking.chamfer`` of non-empty (N, 2) and (M, 2) float64 point sets: the mean (or the
    median) over ``points`` of the distance to the nearest ``reference`` point (NumPy's hypot,
    pairwise sum and ``geometry.median``, so the value is the NumPy expression's to the bit)."""
    nearest = np.empty(len(points))
    for i in range(len(points)):
        best = np.inf
        for j in range(len(reference)):
            best = min(best, np.hypot(points[i, 0] - reference[j, 0], points[i, 1] - reference[j, 1]))
        nearest[i] = best
    if use_median:
        return _median(nearest)
    return pairwise_sum(nearest, 0.0) / len(nearest)


@njit(cache=CACHE, nogil=True)
def longest_step(row: np.ndarray) -> float:
    """Largest distance between neighbours of a (N, 2) float64 row of points, N >= 2
    (``np.linalg.norm(np.diff(row, axis=0), axis=1).max()`` to the bit)."""
    longest = -np.inf
    for i in range(len(row) - 1):
        dx, dy = row[i + 1, 0] - row[i, 0], row[i + 1, 1] - row[i, 1]
        longest = max(longest, np.sqrt(dx * dx + dy * dy))
    return longest


@njit(cache=CACHE, nogil=True)
def template_alignment(points: np.ndarray, template: np.ndarray, miss_cost: float, shift_weight: float,
                       unplaced: int):
    """``tracking.align_to_template`` for a non-empty detection and template: the shift
    (``template_shift``), then points matched one to one to slots within ``miss_cost / 2`` with
    one "no slot" column per point at that cost. Returns (ranks (N,) int64, ``unplaced`` for a
    point that fits no slot; cost: mean residual, a point without a slot counting the gate, plus
    ``shift_weight`` times the shift's length)."""
    n, m = len(points), len(template)
    gate = 0.5 * miss_cost
    gap, shift = template_shift(points, template, miss_cost, shift_weight)
    cost = np.full((n, m + n), gate)
    for i in range(n):
        for j in range(m):
            cost[i, j] = gap[i, j] if gap[i, j] <= gate else 1e6
    assigned = min_cost_assignment(cost)
    ranks = np.full(n, unplaced, np.int64)
    residual = np.full(n, gate)
    for i in range(n):
        if assigned[i] < m:
            ranks[i] = assigned[i]
            residual[i] = gap[i, assigned[i]]
    total = pairwise_sum(residual, 0.0) / n + shift_weight * np.sqrt(shift[0] * shift[0] + shift[1] * shift[1])
    return ranks, total


@njit(cache=CACHE, nogil=True)
def connected_labels(adjacent: np.ndarray) -> np.ndarray:
    """(N,) int64 component label of each node of a symmetric (N, N) bool adjacency matrix,
    numbered in the order of each component's lowest node (SciPy's ``connected_components``
    numbering, without its per-call cost for the few loose electrodes of a frame)."""
    count = len(adjacent)
    labels = np.full(count, -1, np.int64)
    queue = np.empty(count, np.int64)
    label = 0
    for first in range(count):
        if labels[first] >= 0:
            continue
        labels[first] = label
        queue[0], head, tail = first, 0, 1
        while head < tail:
            node = queue[head]
            head += 1
            for other in range(count):
                if adjacent[node, other] and labels[other] < 0:
                    labels[other] = label
                    queue[tail] = other
                    tail += 1
        label += 1
    return labels


@njit(cache=CACHE, nogil=True)
def gap_cuts(ordered_arc: np.ndarray, split_gap: float) -> np.ndarray:
    """``results.split_electrode_groups``' cut by gaps: (N - 1,) bool, True where the gap after an
    electrode exceeds both ``split_gap`` and three times the median gap. ordered_arc: (N,) arc
    positions in order (the gaps in their own precision, as ``np.diff`` takes them); fewer than
    three electrodes are never cut."""
    count = len(ordered_arc)
    cut = np.zeros(max(count - 1, 0), np.bool_)
    if count < 3:
        return cut
    gaps = np.empty(count - 1)
    for i in range(count - 1):
        gaps[i] = ordered_arc[i + 1] - ordered_arc[i]
    limit = max(split_gap, 3.0 * _median(gaps))
    for i in range(count - 1):
        cut[i] = gaps[i] > limit
    return cut


@njit(cache=CACHE, nogil=True)
def assign_points(points: np.ndarray, vertices: np.ndarray, bounds: np.ndarray, max_distance: float):
    """Each point to its nearest polyline within ``max_distance``, numbered from the polyline's
    end nearer its points (``assignment.assign_electrodes``).

    points: (N, 2) float64; vertices: (V, 2) float32, polyline c being
    ``vertices[bounds[c]:bounds[c + 1]]``. Only polylines whose bounding box, widened by
    ``max_distance``, holds a point are measured. A polyline whose points sit nearer its end
    than its start is flipped (its length in float32, as NumPy measured the float32 polyline).
    Returns catheter (N,) int64 (-1: none in reach), index (N,) int64 from the tip, arc (N,)
    float32 pixels from the tip (NaN: none), distance (N,) float32 (inf: none), flipped (C,) bool.
    """
    count, lines = len(points), len(bounds) - 1
    catheter = np.full(count, -1, np.int64)
    index = np.full(count, -1, np.int64)
    arc = np.full(count, np.nan, np.float32)
    distance = np.full(count, np.inf, np.float32)
    flipped = np.zeros(lines, np.bool_)
    if count == 0 or lines == 0:
        return catheter, index, arc, distance, flipped
    reach = np.float32(max_distance)
    reachable = np.zeros(lines + 1, np.int64)  # offsets of the reachable polylines' vertices
    chosen = np.empty(lines, np.int64)
    taken = 0
    for c in range(lines):
        low, high = bounds[c], bounds[c + 1]
        if high == low:
            continue
        x0 = x1 = vertices[low, 0]
        y0 = y1 = vertices[low, 1]
        for v in range(low + 1, high):
            x0, x1 = min(x0, vertices[v, 0]), max(x1, vertices[v, 0])
            y0, y1 = min(y0, vertices[v, 1]), max(y1, vertices[v, 1])
        x0, y0, x1, y1 = x0 - reach, y0 - reach, x1 + reach, y1 + reach  # in float32, as NumPy did
        for i in range(count):
            if x0 <= points[i, 0] <= x1 and y0 <= points[i, 1] <= y1:
                chosen[taken] = c
                taken += 1
                break
    gaps = np.full((lines, count), np.inf)
    arcs = np.full((lines, count), np.nan)
    if taken:
        size = 0
        for k in range(taken):
            size += bounds[chosen[k] + 1] - bounds[chosen[k]]
        stacked = np.empty((size, 2))
        at = 0
        for k in range(taken):
            c = chosen[k]
            for v in range(bounds[c], bounds[c + 1]):
                stacked[at, 0], stacked[at, 1] = vertices[v, 0], vertices[v, 1]
                at += 1
            reachable[k + 1] = at
        near, along = project_points(points, stacked, reachable[:taken + 1])
        for k in range(taken):
            gaps[chosen[k]] = near[k]
            arcs[chosen[k]] = along[k]
    nearest = np.empty(count, np.int64)
    for i in range(count):
        best = 0
        for c in range(1, lines):
            if gaps[c, i] < gaps[best, i]:
                best = c
        nearest[i] = best if gaps[best, i] <= max_distance else -1
    for c in range(lines):
        members = np.flatnonzero(nearest == c)
        if len(members) == 0:
            continue
        positions = np.empty(len(members))
        for k in range(len(members)):
            positions[k] = arcs[c, members[k]]
        low, high = bounds[c], bounds[c + 1]
        length = np.float32(0.0)
        if high - low > 1:
            steps = np.empty(high - low - 1, np.float32)
            for v in range(low, high - 1):
                dx, dy = vertices[v + 1, 0] - vertices[v, 0], vertices[v + 1, 1] - vertices[v, 1]
                steps[v - low] = np.sqrt(dx * dx + dy * dy)
            length = pairwise_sum(steps, np.float32(0.0))
        if positions.min() > length - positions.max():  # the points sit nearer the end: flip
            flipped[c] = True
            positions = length - positions
        order = np.argsort(positions, kind="mergesort")
        for k in range(len(members)):
            catheter[members[k]] = c
            index[members[order[k]]] = k
            arc[members[k]] = positions[k]
            distance[members[k]] = gaps[c, members[k]]
    return catheter, index, arc, distance, flipped


@njit(cache=CACHE, nogil=True)
def electrode_pattern(arc: np.ndarray, sizes: np.ndarray, points: np.ndarray):
    """The numbers of ``catheter_type.pattern_features`` for one catheter's N >= 1 electrodes.

    arc: (N,) float64 positions along the centreline; sizes: (N, 2) float64 box sides, or (0, 2)
    for none; points: (N, 2) float64 positions, or (0, 2) for none. Returns (gap_cv,
    alternation, tip_ratio, tail_ratio, mean_gap, spread), NumPy's arithmetic throughout.
    """
    order = np.argsort(arc, kind="mergesort")
    ordered = arc[order]
    gaps = np.empty(max(len(arc) - 1, 0))
    kept = 0
    for i in range(len(arc) - 1):
        gap = ordered[i + 1] - ordered[i]
        if gap > 0.5:  # electrodes closer than half a pixel are one ring seen twice
            gaps[kept] = gap
            kept += 1
    gaps = gaps[:kept]
    gap_cv = alternation = mean_gap = 0.0
    if kept:
        mean_gap = pairwise_sum(gaps, 0.0) / kept
    if kept >= 2:
        squares = np.empty(kept)
        for i in range(kept):
            squares[i] = (gaps[i] - mean_gap) * (gaps[i] - mean_gap)
        gap_cv = np.sqrt(pairwise_sum(squares, 0.0) / kept) / max(mean_gap, 1e-6)
        logs = np.empty(kept - 1)
        for i in range(kept - 1):
            logs[i] = abs(np.log(gaps[i + 1] / gaps[i]))
        alternation = pairwise_sum(logs, 0.0) / (kept - 1)
    tip_ratio = tail_ratio = 1.0
    if len(sizes) and len(arc) >= 2:
        extent = np.empty(len(arc))
        for i in range(len(arc)):
            extent[i] = max(sizes[order[i], 0], sizes[order[i], 1])
        tip_ratio = extent[0] / max(_median(extent[1:]), 1e-6)
        tail_ratio = extent[-1] / max(_median(extent[:-1]), 1e-6)
    spread = 1.0
    if len(points) and len(arc) >= 3 and ordered[-1] - ordered[0] > 1e-6:
        farthest = 0.0
        for i in range(len(points)):
            for j in range(len(points)):
                dx, dy = points[i, 0] - points[j, 0], points[i, 1] - points[j, 1]
                farthest = max(farthest, np.sqrt(dx * dx + dy * dy))
        spread = farthest / (ordered[-1] - ordered[0])
    return gap_cv, alternation, tip_ratio, tail_ratio, mean_gap, spread


@njit(cache=CACHE, nogil=True)
def electrode_match_cost(found: np.ndarray, owner: np.ndarray, detections: int, reference: np.ndarray,
                         reference_offsets: np.ndarray, gate: np.ndarray, expected: np.ndarray,
                         scale: np.ndarray) -> np.ndarray:
    """Cost of explaining detections by tracks from their electrodes, (D, T).

    found (R, 2): detected electrodes of all detections together, ``owner`` (R,) their detection;
    reference (P, 2): the tracks' predicted electrodes (slots), track t's being
    ``reference[reference_offsets[t]:reference_offsets[t + 1]]``; gate (T,) pixels; expected (T,):
    electrodes the track usually shows (most seen at once); scale (T,) pixels: a pair's distance
    scale. Electrodes and slots are paired one to one, nearest pairs first, within the gate; a pair
    counts max(1 - distance / scale, 0) (a soft match; the Tracker passes the gate of a track seen
    last frame, so a lost track's wider gate admits more pairs without making them cheaper) and
    the cost is 1 - matched / max(detection's electrodes, track's expected ones), so a detection
    holding most of a catheter's rings beats a piece holding one of them, and a few false
    electrodes only add their share, not their distance. One to one, because a track of two slots
    must not explain a detection's five electrodes that crowd around them (a piece's track would
    then take the whole catheter from the catheter's own track). A pair with fewer than half the
    detection's electrodes paired is inadmissible (inf).
    """
    tracks = len(reference_offsets) - 1
    count = np.zeros(detections)
    for r in range(len(found)):
        count[owner[r]] += 1.0
    cost = np.full((detections, tracks), np.inf)
    for d in range(detections):
        if count[d] == 0:
            continue
        rows = np.flatnonzero(owner == d)
        for t in range(tracks):
            first, last = reference_offsets[t], reference_offsets[t + 1]
            slots = last - first
            if slots == 0:
                continue
            distance = np.empty(len(rows) * slots)
            for i in range(len(rows)):
                for j in range(slots):
                    distance[i * slots + j] = np.hypot(found[rows[i], 0] - reference[first + j, 0],
                                                       found[rows[i], 1] - reference[first + j, 1])
            row_used = np.zeros(len(rows), np.bool_)
            slot_used = np.zeros(slots, np.bool_)
            matched, pairs = 0.0, 0
            for k in np.argsort(distance, kind="mergesort"):
                if distance[k] > gate[t]:
                    break
                i, j = k // slots, k % slots
                if row_used[i] or slot_used[j]:
                    continue
                row_used[i], slot_used[j] = True, True
                matched += max(1.0 - distance[k] / scale[t], 0.0)
                pairs += 1
            if pairs >= max(1.0, 0.5 * count[d]):
                cost[d, t] = 1.0 - matched / max(max(count[d], expected[t]), 1.0)
    return cost


@njit(cache=CACHE, nogil=True)
def track_costs(lines_t, lines_d, has_t, has_d, missed, reference, reference_offsets, found, owner, expected,
                mixed_penalty, max_distance, max_electrode_distance, gate_growth, steady=False):
    """The Tracker's (tracks, detections) costs, each divided by its gate (admissible at <= 1);
    ``steady``: divided by the gate of a track seen last frame instead (a lost track's grown gate
    only decides admission; a line pair beyond it is inf).

    lines_t (T, K, 2), lines_d (D, K, 2): resampled centrelines; has_t (T,), has_d (D,): which
    side has electrodes; missed (T,) frames each track was missed; reference (P, 2): the tracks'
    predicted electrodes, track t's being ``reference[reference_offsets[t]:reference_offsets[t + 1]]``;
    found (R, 2): the detections' electrodes, ``owner`` (R,) their detection; expected (T,): the
    electrodes each track usually shows. Returns (line cost: mean centreline distance in the
    better direction, plus ``mixed_penalty`` when only one side has electrodes; electrode cost:
    ``electrode_match_cost``, inf unless both sides have electrodes).
    """
    tracks, detections, samples = lines_t.shape[0], lines_d.shape[0], lines_t.shape[1]
    line_cost = np.empty((tracks, detections))
    forward = np.empty(samples)
    backward = np.empty(samples)
    for t in range(tracks):
        for d in range(detections):
            for k in range(samples):
                forward[k] = np.hypot(lines_t[t, k, 0] - lines_d[d, k, 0], lines_t[t, k, 1] - lines_d[d, k, 1])
                back = samples - 1 - k
                backward[k] = np.hypot(lines_t[t, k, 0] - lines_d[d, back, 0], lines_t[t, k, 1] - lines_d[d, back, 1])
            best = min(pairwise_sum(forward, 0.0) / samples, pairwise_sum(backward, 0.0) / samples)
            penalty = mixed_penalty * (1.0 if has_t[t] != has_d[d] else 0.0)
            if steady:
                within = best + penalty <= max_distance + gate_growth * missed[t]
                line_cost[t, d] = (best + penalty) / max_distance if within else np.inf
            else:
                line_cost[t, d] = (best + penalty) / (max_distance + gate_growth * missed[t])
    cost = np.full((tracks, detections), np.inf)
    if not (has_t.any() and has_d.any()):
        return line_cost, cost
    gate = np.empty(tracks)
    for t in range(tracks):
        gate[t] = max_electrode_distance + gate_growth * missed[t]
    scale = np.full(tracks, max_electrode_distance) if steady else gate
    by_electrodes = electrode_match_cost(found, owner, detections, reference, reference_offsets, gate, expected, scale)
    for t in range(tracks):
        for d in range(detections):
            if has_t[t] and has_d[d]:
                cost[t, d] = by_electrodes[d, t]
    return line_cost, cost


@njit(cache=CACHE, nogil=True)
def claimed_by_several(electrodes, catheter_of, catheters, reference, owner_of, claim_distance, min_claim):
    """(C,) bool: catheters holding at least ``min_claim`` electrodes claimed by each of two or
    more tracks (an electrode is claimed by the track of its nearest predicted electrode when
    that is within ``claim_distance``; ties: the first). electrodes (N, 2), catheter_of (N,),
    reference (P, 2) float64 predicted electrodes of all tracks, owner_of (P,) their track."""
    several = np.zeros(catheters, np.bool_)
    tracks = owner_of.max() + 1 if len(owner_of) else 0
    counts = np.zeros(tracks, np.int64)
    for c in range(catheters):
        members = np.flatnonzero(catheter_of == c)
        if len(members) < 2 * min_claim:
            continue
        counts[:] = 0
        for i in members:
            best, best_gap = -1, np.inf
            for p in range(len(reference)):
                dx, dy = electrodes[i, 0] - reference[p, 0], electrodes[i, 1] - reference[p, 1]
                gap = np.sqrt(dx * dx + dy * dy)
                if gap < best_gap:
                    best, best_gap = p, gap
            if best >= 0 and best_gap <= claim_distance:
                counts[owner_of[best]] += 1
        several[c] = (counts >= min_claim).sum() >= 2
    return several


@njit(cache=CACHE, nogil=True)
def catheter_geometry(centreline: np.ndarray, electrodes: np.ndarray, probabilities: np.ndarray, height: int,
                      width: int, step: float):
    """The measured inputs of one catheter's type decision (``type_classifier.centreline_features``).

    centreline: (M, 2) polyline (float32 or float64: its length is summed in that precision);
    electrodes: (K, 2) float64 from the tip; probabilities: (T, h, w) float32 type-head output
    over an H x W frame, or (0, 1, 1) for none. Returns (length, turning of the centreline
    resampled every ``step`` pixels (0 below two steps), turning of the electrode row, head's
    mean along the centreline (T,), at the electrodes (T,); the means are empty without a head
    or without points).
    """
    length = polyline_length(centreline) if len(centreline) >= 2 else 0.0
    turning = 0.0
    if length >= 2 * step:
        resampled = resample_polyline(centreline, int(length / step) + 1)
        turning = turning_per_pixel(resampled.astype(np.float64))
    electrode_turning = turning_per_pixel(electrodes)
    none = np.zeros(0, np.float32)
    head = electrode_head = none
    if probabilities.shape[0] and len(centreline):
        head = cell_means(probabilities, centreline.astype(np.float64), height, width)
        if len(electrodes):
            electrode_head = cell_means(probabilities, electrodes, height, width)
    return float(length), turning, electrode_turning, head, electrode_head


@njit(cache=CACHE, nogil=True)
def padded_crop(mask: np.ndarray):
    """The bounding box of an (H, W) mask's nonzero pixels, cut out as bool with a one-pixel
    border of background: (crop (h + 2, w + 2) bool, top, left), or an empty crop for an empty
    mask. One pass over the mask instead of binarise, boundingRect, slice and np.pad."""
    height, width = mask.shape
    top, bottom, left, right = height, -1, width, -1
    for r in range(height):
        for c in range(width):
            if mask[r, c]:
                top, bottom = min(top, r), max(bottom, r)
                left, right = min(left, c), max(right, c)
    if bottom < 0:
        return np.zeros((0, 0), np.bool_), 0, 0
    crop = np.zeros((bottom - top + 3, right - left + 3), np.bool_)
    for r in range(top, bottom + 1):
        for c in range(left, right + 1):
            crop[r - top + 1, c - left + 1] = mask[r, c] != 0
    return crop, top, left


@njit(cache=CACHE, nogil=True)
def skeleton_centrelines(skeleton: np.ndarray, top: int, left: int, min_length: float, min_branch: float,
                         straight: bool, max_turn: float, reach: int):
    """``centreline_paths`` of a skeleton cut out at (top - 1, left - 1) of its frame (the
    crop's one-pixel border), in one call: (points (P, 2) float32 (x, y) frame pixels of all
    paths, path offsets, closed flags, piece numbers, junction positions, junction offsets)."""
    coords, neighbours = skeleton_graph(skeleton)
    _, ends, lengths, offsets, pixels = chain_graph(neighbours)
    paths, path_offsets, closed, pieces, junction_at, junction_offsets = centreline_paths(
        coords, ends, lengths, offsets, pixels, min_length, min_branch, straight, max_turn, reach)
    points = np.empty((len(paths), 2), np.float32)
    for i in range(len(paths)):
        points[i, 0] = coords[paths[i], 1] - 1 + left
        points[i, 1] = coords[paths[i], 0] - 1 + top
    return points, path_offsets, closed, pieces, junction_at, junction_offsets

