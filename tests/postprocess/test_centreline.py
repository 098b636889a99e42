"""Centrelines on hand-drawn masks: straight line, spur, loop, crossing, empty."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cathx.postprocess.centreline import (
    extract_centrelines,
    polyline_length,
    resample_polyline,
    skeleton_graph,
)


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
    coords, neighbours, weights = skeleton_graph(skeleton)
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
