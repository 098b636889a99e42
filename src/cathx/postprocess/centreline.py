"""Catheter centrelines from a binary mask: skeleton -> pixel graph -> pruned, ordered polylines.

The mask is thinned to a one-pixel skeleton (scikit-image). Its pixels become a graph with
"m-adjacency" (a diagonal step only where no 4-neighbour path exists), which keeps the graph free
of the tiny triangles plain 8-adjacency makes at corners, so real cycles (a lasso's loop) are the
only cycles. The pixel graph is collapsed into a small graph of nodes (end points, junction
clusters) and edges (pixel chains), which keeps everything after the skeleton to a few
milliseconds of Python. Short end branches are pruned; a catheter's centreline starts at one end
of the longest shortest path and, at every junction, continues into the branch that turns least
(catheters run straight through crossings and out of the forks of a bundle). What is left is
covered the same way. A walk that comes back to a node it passed closes a loop (lasso: marked
closed); a chain leaving the end of a path and returning to it is merged as a loop too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import cv2
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


def skeleton_graph(skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel graph of a one-pixel skeleton.

    skeleton: (H, W) bool. Returns coords (V, 2) int (row, col) and neighbours (V, 8) int node
    ids (-1 where none), columns right, down, left, up (steps of 1 px), then down-right,
    down-left, up-right, up-left (sqrt 2 px). Diagonal edges are kept only where the two pixels
    share no 4-neighbour in the skeleton (m-adjacency). Compiled: ``compiled.skeleton_graph``.
    """
    from cathx.postprocess import compiled

    return compiled.skeleton_graph(np.ascontiguousarray(skeleton, dtype=np.bool_))


@dataclass
class _Edge:
    """A chain of skeleton pixels between two nodes (ends or junction clusters) of the graph."""

    a: int
    b: int
    pixels: list[int]
    length: float
    alive: bool = True

    def oriented(self, start: int) -> list[int]:
        """Pixels from node ``start`` to the other end."""
        return self.pixels if self.a == start else self.pixels[::-1]

    def other(self, node: int) -> int:
        return self.b if self.a == node else self.a


def chain_graph(neighbours: np.ndarray) -> tuple[np.ndarray, list[_Edge]]:
    """Collapse a pixel graph into nodes (end points and clusters of adjacent junction pixels) and
    edges (chains of degree-2 pixels between them). A closed curve without any node gets one.

    Returns (node id per pixel, -1 on chains; edges). The walk is compiled
    (``compiled.chain_graph``); this builds the edges the path searches below work on.
    """
    from cathx.postprocess import compiled

    node_of, ends, lengths, offsets, pixels = compiled.chain_graph(neighbours)
    flat, cuts = pixels.tolist(), offsets.tolist()
    edges = [_Edge(a, b, flat[start:stop], length)
             for (a, b), length, start, stop in zip(ends.tolist(), lengths.tolist(), cuts[:-1], cuts[1:])]
    return node_of, edges


def _incidence(edges: list[_Edge]) -> dict[int, list[int]]:
    table: dict[int, list[int]] = {}
    for i, edge in enumerate(edges):
        if edge.alive:
            table.setdefault(edge.a, []).append(i)
            table.setdefault(edge.b, []).append(i)  # a self-loop is listed twice: degree 2
    return table


def prune_spurs(edges: list[_Edge], min_branch: float) -> None:
    """Drop end branches shorter than ``min_branch`` pixels that hang off a junction, then merge
    chains through nodes left with two branches. Two passes catch spurs the first uncovers."""
    for _ in range(2):
        incidence = _incidence(edges)
        changed = False
        for edge in edges:
            if not edge.alive or edge.length >= min_branch or edge.a == edge.b:
                continue
            da, db = len(incidence.get(edge.a, [])), len(incidence.get(edge.b, []))
            if (da == 1 and db >= 3) or (db == 1 and da >= 3):
                edge.alive = False
                changed = True
        if not changed:
            break
        _merge_through(edges)


def _merge_through(edges: list[_Edge]) -> None:
    """Join the two chains meeting at every node of degree 2 (left by pruning) into one."""
    incidence = _incidence(edges)
    for node, members in incidence.items():
        members = [i for i in members if edges[i].alive]
        if len(members) != 2 or members[0] == members[1]:
            continue
        first, second = edges[members[0]], edges[members[1]]
        head = first.oriented(first.other(node))  # ends at node
        tail = second.oriented(node)  # starts at node
        merged = _Edge(first.other(node), second.other(node), head + tail[1:], first.length + second.length)
        first.alive = second.alive = False
        edges.append(merged)
        for end in (merged.a, merged.b):
            incidence.setdefault(end, []).append(len(edges) - 1)


def _farthest(edges: list[_Edge], usable: set[int], incidence: dict[int, list[int]], start: int):
    """Dijkstra over usable edges: (farthest node, its distance, predecessor edge per node)."""
    import heapq

    distance = {start: 0.0}
    previous: dict[int, int] = {}
    queue = [(0.0, start)]
    while queue:
        d, node = heapq.heappop(queue)
        if d > distance.get(node, np.inf):
            continue
        for i in incidence.get(node, []):
            if i not in usable:
                continue
            other = edges[i].other(node)
            nd = d + edges[i].length
            if nd < distance.get(other, np.inf):
                distance[other], previous[other] = nd, i
                heapq.heappush(queue, (nd, other))
    far = max(distance, key=distance.get)
    return far, previous


def _longest(edges: list[_Edge], usable: set[int], incidence: dict[int, list[int]], start: int):
    """Longest shortest path (diameter, exact on trees): (node sequence, edge sequence)."""
    first, _ = _farthest(edges, usable, incidence, start)
    last, previous = _farthest(edges, usable, incidence, first)
    nodes, path = [last], []
    while nodes[-1] != first:
        i = previous[nodes[-1]]
        path.append(i)
        nodes.append(edges[i].other(nodes[-1]))
    return nodes[::-1], path[::-1]


def _straighten(edges: list[_Edge], usable: set[int], incidence: dict[int, list[int]], coords: np.ndarray,
                start: int, first: int, max_turn: float = 60.0, reach: int = 8) -> tuple[list[int], list[int]]:
    """Walk from node ``start`` along edge ``first``; at every junction continue into the unused edge
    that turns least (a catheter runs straight through a crossing or a bundle's fork), stopping at
    an end or where every way on turns more than ``max_turn`` degrees. Returns (nodes, edges)."""
    limit = np.cos(np.radians(max_turn))
    nodes, path, used = [start], [first], {first}
    node = edges[first].other(start)
    nodes.append(node)
    while True:
        chain = edges[path[-1]].oriented(nodes[-2])
        tail = coords[chain[-1]] - coords[chain[max(0, len(chain) - 1 - reach)]]
        best, best_cos = None, limit
        for i in incidence.get(node, []):
            if i in used or i not in usable:
                continue
            out = edges[i].oriented(node)
            head = coords[out[min(len(out) - 1, reach)]] - coords[out[0]]
            norm = float(np.hypot(*tail) * np.hypot(*head))
            cos = float(tail @ head) / norm if norm > 0 else -1.0
            if cos > best_cos:
                best, best_cos = i, cos
        if best is None:
            return nodes, path
        used.add(best)
        path.append(best)
        node = edges[best].other(node)
        nodes.append(node)


def _pixels(edges: list[_Edge], nodes: list[int], path: list[int]) -> tuple[list[int], list[int]]:
    """Pixels along a node/edge path, and the pixel position where each node is reached."""
    pixels: list[int] = []
    at = [0]
    for node, i in zip(nodes, path):
        chain = edges[i].oriented(node)
        pixels.extend(chain if not pixels else chain[1:] if chain[0] == pixels[-1] else chain)
        at.append(len(pixels) - 1)
    return pixels, at


def _to_xy(coords: np.ndarray) -> np.ndarray:
    return coords[:, ::-1].astype(np.float32)


def extract_centrelines(mask: np.ndarray, min_length: int = 16, min_branch: int = 10, straight: bool = True
                        ) -> list[Centreline]:
    """Ordered centrelines of every catheter in a binary mask.

    mask: (H, W) bool/uint8. Skeleton pieces shorter than ``min_length`` pixels are dropped
    (noise, electrode bumps); spurs shorter than ``min_branch`` are pruned first. ``straight``:
    continue through junctions into the straightest branch (else keep the longest path). A chain that
    leaves the end of a centreline and comes back to it closes a loop (lasso): the centreline goes
    round it and is marked closed. Returns Centrelines in (x, y) pixels, longest first.
    """
    binary = (np.asarray(mask) > 0).astype(np.uint8)
    left, top, width, height = cv2.boundingRect(binary)
    if width == 0:
        return []
    # Thinning is local: the mask's bounding box (plus a one-pixel border) gives the same skeleton
    # at a fraction of a whole frame's cost.
    skeleton = skeletonize(np.pad(binary[top:top + height, left:left + width] > 0, 1))
    if not skeleton.any():
        return []
    coords, neighbours = skeleton_graph(skeleton)
    coords = coords - 1 + np.array([top, left])
    _, edges = chain_graph(neighbours)
    prune_spurs(edges, min_branch)
    remaining = {i for i, e in enumerate(edges) if e.alive}
    incidence = _incidence(edges)
    found: list[Centreline] = []
    piece_id = 0
    while remaining:
        seed = min(remaining)
        edge = edges[seed]
        if edge.a != edge.b and len(incidence[edge.a]) == 1 and len(incidence[edge.b]) == 1:
            # A piece that is one chain (a third of a network mask's pieces are such fragments):
            # the path is the chain, as the searches below would find it, without them.
            remaining.discard(seed)
            if edge.length < min_length - 1e-6:
                piece_id += 1
                continue
            nodes, path = [edge.b, edge.a], [seed]
        else:
            nodes, path = _longest(edges, remaining, incidence, edge.a)
            if not path:  # an isolated closed curve: one self-loop edge
                path, nodes = [seed], [edges[seed].a, edges[seed].a]
            elif straight:
                nodes, path = _straighten(edges, remaining, incidence, coords, nodes[0], path[0])
        remaining.difference_update(path)
        pixels, at = _pixels(edges, nodes, path)
        closed = len(set(nodes)) < len(nodes)
        for i in ([] if closed else sorted(remaining)):  # loops hanging off the end of this line
            edge = edges[i]
            if edge.a not in nodes or edge.b not in nodes:
                continue
            positions = sorted((nodes.index(edge.a), nodes.index(edge.b)))
            if positions[0] == 0 and positions[1] != len(nodes) - 1:
                nodes, path = nodes[::-1], path[::-1]
                pixels, at = _pixels(edges, nodes, path)
                positions = sorted(len(nodes) - 1 - p for p in positions)
            if positions[1] != len(nodes) - 1 or edge.length < min_length:
                continue
            end, back = nodes[positions[1]], nodes[positions[0]]
            loop = edge.oriented(end)
            closing = [pixels[at[positions[0]]]] if back != end else []
            pixels = pixels[: at[positions[1]] + 1] + loop[1:] + closing
            remaining.discard(i)
            closed = True
            break
        points = _to_xy(coords[np.array(pixels)])
        line = Centreline(points, closed=closed, component=piece_id)
        if line.length >= min_length:
            inner = [at[i] for i in range(1, len(nodes) - 1) if len(incidence.get(nodes[i], [])) >= 3]
            junctions = arc_length(points)[inner].astype(np.float32) if inner else np.zeros(0, np.float32)
            line.junctions = junctions
            found.append(line)
        piece_id += 1
    found.sort(key=lambda line: -line.length)
    return found


def resample_polyline(points: np.ndarray, count: int) -> np.ndarray:
    """(M, 2) polyline -> (count, 2) float32 points evenly spaced by arc length."""
    if len(points) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    if len(points) == 1:
        return np.repeat(points.astype(np.float32), count, axis=0)
    # Called for every catheter of every tracked frame: hypot and a plain arange instead of
    # norm and linspace take it from about 50 to 30 microseconds.
    step = np.diff(np.asarray(points, dtype=np.float64), axis=0)
    arc = np.zeros(len(points))
    np.cumsum(np.hypot(step[:, 0], step[:, 1]), out=arc[1:])
    target = np.arange(count) * (arc[-1] / max(count - 1, 1))
    out = np.empty((count, 2), dtype=np.float32)
    out[:, 0] = np.interp(target, arc, points[:, 0])
    out[:, 1] = np.interp(target, arc, points[:, 1])
    return out
