"""Centrelines on hand-drawn masks: straight line, spur, loop, crossing, empty."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cathx.postprocess.centreline import (
    extract_centrelines,
    polyline_length,
    resample_polyline,
)
from cathx.postprocess.compiled import chain_graph, skeleton_graph


def _mask(size: int = 128) -> np.ndarray:
    return np.zeros((size, size), np.uint8)


def test_straight_line_is_one_ordered_polyline():
    mask = _mask()
    mask[60:62, 10:111] = 1  # 2 px thick horizontal catheter from x=10 to x=110
    lines = extract_centrelines(mask)
    assert len(lines) == 1
    points = lines[0].points
    assert not lines[0].closed
    assert {points[0, 0], points[-1, 0]} >= {10.0} or abs(sorted([points[0, 0], points[-1, 0]])[0] - 10) <= 2
    assert abs(abs(points[-1, 0] - points[0, 0]) - 100) <= 3
    assert np.all(np.abs(points[:, 1] - 60.5) <= 1)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    assert steps.max() <= np.sqrt(2) + 1e-6  # one-pixel polyline, no jumps
    assert np.all(np.diff(points[:, 0]) * np.sign(points[-1, 0] - points[0, 0]) >= 0)  # monotonic


def test_short_spur_is_pruned():
    mask = _mask()
    cv2.line(mask, (10, 20), (100, 90), 1, 2)
    cv2.line(mask, (55, 55), (59, 49), 1, 2)  # a 7 px side branch
    lines = extract_centrelines(mask, min_branch=10)
    assert len(lines) == 1
    ends = sorted(map(tuple, np.round(lines[0].points[[0, -1]]).tolist()))
    assert np.allclose(ends[0], (10, 20), atol=2) and np.allclose(ends[1], (100, 90), atol=2)


def test_loop_with_shaft_is_closed_and_goes_round():
    mask = _mask()
    cv2.circle(mask, (64, 64), 20, 1, 2)
    cv2.line(mask, (64, 84), (64, 125), 1, 2)
    lines = extract_centrelines(mask)
    assert len(lines) == 1 and lines[0].closed
    # shaft (~40) + full circumference (~126)
    assert 150 <= lines[0].length <= 185


def test_separate_catheters_and_noise():
    mask = _mask()
    cv2.line(mask, (10, 10), (10, 100), 1, 2)
    cv2.line(mask, (60, 10), (100, 110), 1, 2)
    mask[120:123, 120:123] = 1  # a blob: too short for a catheter
    lines = extract_centrelines(mask)
    assert len(lines) == 2
    assert lines[0].length > lines[1].length
    assert lines[0].component != lines[1].component


def test_crossing_catheters_give_two_or_more_lines_covering_both():
    mask = _mask()
    cv2.line(mask, (10, 64), (120, 64), 1, 2)
    cv2.line(mask, (64, 5), (64, 120), 1, 2)
    lines = extract_centrelines(mask)
    assert len(lines) == 2
    total = sum(line.length for line in lines)
    assert 200 <= total <= 230  # both catheters covered once
    for line in lines:  # each runs straight through the crossing
        spread = line.points.max(axis=0) - line.points.min(axis=0)
        assert min(spread) <= 2 and max(spread) >= 100
    bent = extract_centrelines(mask, straight=False)
    assert sum(line.length for line in bent) == pytest.approx(total, abs=10)


def test_empty_mask():
    assert extract_centrelines(_mask()) == []


def test_m_adjacency_has_no_corner_triangles():
    skeleton = np.zeros((5, 5), bool)
    skeleton[1, 1] = skeleton[1, 2] = skeleton[2, 2] = True  # an L corner
    coords, neighbours = skeleton_graph(skeleton)
    edges = int((neighbours >= 0).sum())
    assert edges == 4  # two 4-neighbour links, both directions; the diagonal is bridged


def test_resample_and_length():
    line = np.array([[0, 0], [10, 0], [10, 10]], np.float32)
    assert polyline_length(line) == pytest.approx(20.0)
    resampled = resample_polyline(line, 5)
    assert np.allclose(resampled, [[0, 0], [5, 0], [10, 0], [10, 5], [10, 10]])


def test_pieces_in_a_corner_keep_their_frame_coordinates_and_short_chains_go():
    # The skeleton is computed in the mask's bounding box: points must come back in frame pixels.
    mask = _mask()
    cv2.line(mask, (100, 110), (124, 110), 1, 2)  # a 24 px chain near the bottom-right corner: kept
    cv2.line(mask, (90, 90), (90, 100), 1, 2)  # a 10 px chain: shorter than min_length, dropped
    lines = extract_centrelines(mask, min_length=16)
    assert len(lines) == 1
    xs, ys = lines[0].points[:, 0], lines[0].points[:, 1]
    assert abs(xs.min() - 100) <= 2 and abs(xs.max() - 124) <= 2 and np.all(np.abs(ys - 110.5) <= 1)
    assert len(extract_centrelines(mask, min_length=8)) == 2  # the short one is a piece at a lower bar


def _skeleton(pixels, shape=(8, 8)) -> np.ndarray:
    skeleton = np.zeros(shape, bool)
    for r, c in pixels:
        skeleton[r, c] = True
    return skeleton


def test_skeleton_graph_by_hand():
    coords, neighbours = skeleton_graph(_skeleton([(0, 0), (1, 1), (1, 2)], (3, 3)))
    assert coords.tolist() == [[0, 0], [1, 1], [1, 2]]
    # columns: right, down, left, up, then down-right, down-left, up-right, up-left
    assert neighbours.tolist() == [[-1, -1, -1, -1, 1, -1, -1, -1],
                                   [2, -1, -1, -1, -1, -1, -1, 0],
                                   [-1, -1, 1, -1, -1, -1, -1, -1]]
    assert neighbours.dtype == np.int64 and coords.dtype == np.int64
    # m-adjacency: a diagonal step with a 4-neighbour path beside it is not an edge
    coords, bridged = skeleton_graph(_skeleton([(2, 1), (2, 2), (1, 2)], (3, 3)))
    assert coords.tolist() == [[1, 2], [2, 1], [2, 2]]
    assert bridged.tolist() == [[-1, 2, -1, -1, -1, -1, -1, -1],
                                [2, -1, -1, -1, -1, -1, -1, -1],
                                [-1, -1, 1, 0, -1, -1, -1, -1]]


def test_chain_graph_of_a_line_a_junction_and_a_ring():

    # a 5-pixel line with one diagonal step: two end nodes, one chain of length 3 + sqrt(2)
    _, neighbours = skeleton_graph(_skeleton([(1, 1), (1, 2), (1, 3), (2, 4), (2, 5)]))
    node_of, ends, lengths, offsets, pixels = chain_graph(neighbours)
    assert node_of.dtype == np.int64 and node_of.tolist() == [0, -1, -1, -1, 1]
    assert ends.tolist() == [[0, 1]] and lengths.tolist() == [pytest.approx(3 + np.sqrt(2.0))]
    assert offsets.tolist() == [0, 5] and pixels.tolist() == [0, 1, 2, 3, 4]
    # a T: the junction pixel is a node of degree 3; three chains leave it
    _, neighbours = skeleton_graph(_skeleton([(2, 0), (2, 1), (2, 2), (2, 3), (2, 4), (3, 2), (4, 2), (5, 2)]))
    node_of, ends, lengths, offsets, pixels = chain_graph(neighbours)
    assert sorted(lengths.tolist()) == [2.0, 2.0, 3.0]
    assert len({n for n in node_of.tolist() if n >= 0}) == 4
    # a closed ring has no node of its own: one is made, and one chain goes round back to it
    ring = [(1, 2), (1, 3), (1, 4), (2, 5), (3, 5), (4, 4), (4, 3), (4, 2), (3, 1), (2, 1)]
    _, neighbours = skeleton_graph(_skeleton(ring))
    node_of, ends, lengths, offsets, pixels = chain_graph(neighbours)
    assert ends.tolist() == [[0, 0]] and (node_of >= 0).sum() == 1
    assert lengths[0] == pytest.approx(6 + 4 * np.sqrt(2.0)) and offsets.tolist() == [0, 11]  # back to its start
    assert pixels[0] == pixels[-1]


def test_spurs_shorter_than_min_branch_are_pruned_and_chains_merged():
    from cathx.postprocess import compiled

    line = [(6, c) for c in range(0, 21)]
    for spur_length, kept in ((3, False), (4, True)):
        spur = [(6 - k, 10) for k in range(1, spur_length + 1)]  # straight up from the line's middle
        coords, neighbours = skeleton_graph(_skeleton(line + spur, (8, 24)))
        paths, offsets, closed, pieces, junction_at, junction_offsets = compiled.centreline_paths(
            coords, *chain_graph(neighbours)[1:], 1.0, 4.0, True, 60.0, 8)  # a branch exactly min_branch long stays
        sizes = np.diff(offsets).tolist()
        rows = coords[paths[:offsets[1]], 0]
        assert sizes[0] == 21 and (rows == 6).all() and not closed.any()  # the line, straight through the fork
        if kept:
            assert sizes[1:] == [5] and pieces.tolist() == [0, 1]  # the spur, from the junction pixel
            assert junction_at[junction_offsets[0]:junction_offsets[1]].tolist() == [10]
        else:  # pruned: the two halves of the line merged into one chain
            assert sizes == [21] and junction_at.tolist() == []
    assert polyline_length(np.zeros((1, 2))) == 0.0 and polyline_length(np.zeros((0, 2))) == 0.0
    assert polyline_length(np.array([[0.0, 0.0], [3.0, 4.0]])) == 5.0
