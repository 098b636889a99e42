"""Catheter centrelines from a binary mask: skeleton -> pixel graph -> pruned, ordered polylines.

Each connected component of the mask is thinned to a one-pixel skeleton (scikit-image). The
skeleton pixels become a graph with "m-adjacency" (a diagonal step only where no 4-neighbour
path exists), which keeps the graph free of the tiny triangles plain 8-adjacency makes at
corners, so real cycles (a lasso's loop) are the only cycles. Short spurs are pruned, then the
longest shortest path is taken as the catheter's centreline. What is left once that path is
removed is covered greedily: a piece that joins the path at both ends closes a loop (the path
is extended around it and marked closed); any other long piece is a second catheter crossing
or touching the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from skimage.morphology import skeletonize

_FOUR = ((0, 1), (1, 0), (0, -1), (-1, 0))
_DIAGONAL = ((1, 1), (1, -1), (-1, 1), (-1, -1))


@dataclass
class Centreline:
    """One catheter's centreline.

    points: (M, 2) float32 ordered polyline (x, y) in pixels, one-pixel steps.
    closed: True when the catheter forms a loop (circular mapping catheter).
    component: id of the skeleton piece it was found in (crossing lines share one).
    """

    points: np.ndarray
    closed: bool = False
    component: int = 0

    @property
    def length(self) -> float:
        return polyline_length(self.points)


def polyline_length(points: np.ndarray) -> float:
    """Sum of segment lengths of an (M, 2) polyline, in pixels."""
    if len(points) < 2:
        return 0.0
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())


def skeleton_graph(skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel graph of a one-pixel skeleton.

    skeleton: (H, W) bool. Returns coords (V, 2) int (row, col), neighbours (V, 8) int node ids
    (-1 where none) and weights (V, 8) float edge lengths (1 or sqrt(2)). Diagonal edges are kept
    only where the two pixels share no 4-neighbour in the skeleton (m-adjacency).
    """
    coords = np.argwhere(skeleton)
    height, width = skeleton.shape
    index = np.full((height + 2, width + 2), -1, dtype=np.int64)
    r, c = coords[:, 0] + 1, coords[:, 1] + 1
    index[r, c] = np.arange(len(coords))
    neighbours = np.full((len(coords), 8), -1, dtype=np.int64)
    weights = np.zeros((len(coords), 8), dtype=np.float64)
    for k, (dr, dc) in enumerate(_FOUR):
        neighbours[:, k] = index[r + dr, c + dc]
        weights[:, k] = 1.0
    for k, (dr, dc) in enumerate(_DIAGONAL, start=4):
        bridged = (index[r + dr, c] >= 0) | (index[r, c + dc] >= 0)
        neighbours[:, k] = np.where(bridged, -1, index[r + dr, c + dc])
        weights[:, k] = np.sqrt(2.0)
    return coords, neighbours, weights


def _degree(neighbours: np.ndarray, alive: np.ndarray) -> np.ndarray:
    linked = (neighbours >= 0) & alive[np.maximum(neighbours, 0)]
    return np.where(alive, linked.sum(axis=1), 0)


def prune_spurs(neighbours: np.ndarray, alive: np.ndarray, min_branch: int) -> np.ndarray:
    """Remove end branches shorter than ``min_branch`` pixels that hang off a junction.

    neighbours: (V, 8) from skeleton_graph; alive: (V,) bool (a pruned copy is returned). A branch
    is walked from an end point (degree 1) to the first junction (degree >= 3); a branch that
    reaches no junction is a whole curve and is kept. Two passes catch spurs the first uncovers.
    """
    alive = alive.copy()
    for _ in range(2):
        degree = _degree(neighbours, alive)
        changed = False
        for start in np.flatnonzero(degree == 1):
            branch, previous, node = [int(start)], -1, int(start)
            while len(branch) < min_branch:
                row = neighbours[node]
                nxt = [int(n) for n in row if n >= 0 and n != previous and alive[n]]
                if len(nxt) != 1:
                    break
                previous, node = node, nxt[0]
                if degree[node] >= 3:
                    break
                branch.append(node)
            if degree[node] >= 3 and len(branch) < min_branch:
                alive[branch] = False
                changed = True
        if not changed:
            break
    return alive


def _graph(neighbours: np.ndarray, weights: np.ndarray, alive: np.ndarray) -> csr_matrix:
    keep = (neighbours >= 0) & alive[:, None] & alive[np.maximum(neighbours, 0)]
    rows = np.nonzero(keep)[0]
    size = len(neighbours)
    return csr_matrix((weights[keep], (rows, neighbours[keep])), shape=(size, size))


def longest_paths(graph: csr_matrix, starts: list[int]) -> list[np.ndarray]:
    """For each start node, the longest shortest path (diameter, exact on trees) of its component.

    Two batched Dijkstra runs serve every component at once. Returns node ids in path order.
    """
    if not starts:
        return []
    distance = dijkstra(graph, directed=False, indices=starts)
    distance[~np.isfinite(distance)] = -1
    firsts = distance.argmax(axis=1)
    distance, predecessors = dijkstra(graph, directed=False, indices=firsts, return_predecessors=True)
    distance[~np.isfinite(distance)] = -1
    paths = []
    for row, last in enumerate(distance.argmax(axis=1).tolist()):
        previous = predecessors[row].tolist()
        path = [last]
        while previous[path[-1]] >= 0:
            path.append(previous[path[-1]])
        paths.append(np.array(path[::-1], dtype=np.int64))
    return paths


def longest_path(graph: csr_matrix, start: int) -> np.ndarray:
    """Longest shortest path of ``start``'s component; node ids in order."""
    return longest_paths(graph, [start])[0]


def _to_xy(coords: np.ndarray) -> np.ndarray:
    return coords[:, ::-1].astype(np.float32)


def _close_loop(coords: np.ndarray, path: np.ndarray, other: np.ndarray, reach: float = 2.5):
    """If ``other`` joins ``path`` at both ends and ``path`` ends on the loop, return the path
    extended around the loop, else None."""
    path_xy = coords[path].astype(np.float64)
    ends = coords[other[[0, -1]]].astype(np.float64)
    gaps = np.linalg.norm(path_xy[None, :, :] - ends[:, None, :], axis=2)
    nearest = gaps.argmin(axis=1)
    if gaps[0, nearest[0]] > reach or gaps[1, nearest[1]] > reach or nearest[0] == nearest[1]:
        return None
    if nearest[0] > nearest[1]:
        other = other[::-1]
        nearest = nearest[::-1]
    if len(path) - 1 - nearest[1] > 2 * reach:
        return None  # the loop does not end the catheter: keep the piece as its own line
    # Walk the path to the far side of the loop, then back around its other half.
    return np.concatenate([path[: nearest[1] + 1], other[::-1], path[nearest[0]: nearest[0] + 1]])


def _groups(labels: np.ndarray) -> list[np.ndarray]:
    """Node ids grouped by label, ignoring label -1."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    cuts = np.flatnonzero(np.diff(sorted_labels)) + 1
    return [group for group in np.split(order, cuts) if labels[group[0]] >= 0]


def extract_centrelines(mask: np.ndarray, min_length: int = 16, min_branch: int = 10) -> list[Centreline]:
    """Ordered centrelines of every catheter in a binary mask.

    mask: (H, W) bool/uint8. Skeleton pieces shorter than ``min_length`` pixels are dropped
    (noise, electrode bumps); spurs shorter than ``min_branch`` are pruned first. Returns
    Centrelines in (x, y) pixels, longest first.
    """
    skeleton = skeletonize(np.pad(np.asarray(mask) > 0, 1))
    if not skeleton.any():
        return []
    coords, neighbours, weights = skeleton_graph(skeleton)
    coords = coords - 1
    alive = prune_spurs(neighbours, np.ones(len(coords), dtype=bool), min_branch)
    _, component_of = connected_components(_graph(neighbours, weights, alive), directed=False)
    found: list[Centreline] = []
    for _ in range(8):  # rounds: a round takes one path per piece; crossings need another round
        if alive.sum() < min_length:
            break
        graph = _graph(neighbours, weights, alive)
        _, labels = connected_components(graph, directed=False)
        pieces = _groups(np.where(alive, labels, -1))
        alive[:] = False
        pieces = [members for members in pieces if len(members) >= min_length]
        leftovers = False
        for members, path in zip(pieces, longest_paths(graph, [int(m[0]) for m in pieces])):
            if len(path) < min_length:
                continue
            rest = np.setdiff1d(members, path, assume_unique=True)
            closed = False
            if len(rest) >= min_length:
                rest_alive = np.zeros_like(alive)
                rest_alive[rest] = True
                rest_graph = _graph(neighbours, weights, rest_alive)
                _, rest_labels = connected_components(rest_graph, directed=False)
                for part in _groups(np.where(rest_alive, rest_labels, -1)):
                    if len(part) < min_length:
                        continue
                    loop = None if closed else _close_loop(coords, path, longest_path(rest_graph, int(part[0])))
                    if loop is not None:
                        path, closed = loop, True
                    else:
                        alive[part] = True  # a crossing catheter: taken in the next round
                        leftovers = True
            found.append(Centreline(_to_xy(coords[path]), closed=closed, component=int(component_of[path[0]])))
        if not leftovers:
            break
    found.sort(key=lambda line: -line.length)
    return found


def resample_polyline(points: np.ndarray, count: int) -> np.ndarray:
    """(M, 2) polyline -> (count, 2) points evenly spaced by arc length."""
    if len(points) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    if len(points) == 1:
        return np.repeat(points.astype(np.float32), count, axis=0)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    target = np.linspace(0.0, arc[-1], count)
    return np.stack([np.interp(target, arc, points[:, 0]), np.interp(target, arc, points[:, 1])], 1).astype(
        np.float32
    )
