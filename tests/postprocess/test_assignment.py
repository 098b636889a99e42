from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.assignment import assign_electrodes, project_to_polyline


def test_projection_distance_and_arc():
    line = np.array([[0, 0], [10, 0], [10, 10]], np.float32)
    distance, arc = project_to_polyline(np.array([[5, 2], [12, 7], [-3, 0]]), line)
    assert distance == pytest.approx([2, 2, 3])
    assert arc == pytest.approx([5, 17, 0])


def test_assignment_orders_from_tip_and_flips_centreline():
    a = np.stack([np.arange(0, 101), np.full(101, 10)], 1).astype(np.float32)  # y=10, x 0..100
    b = np.stack([np.full(101, 50), np.arange(0, 101)], 1).astype(np.float32)  # x=50, y 0..100
    electrodes = np.array([[95, 11], [85, 9], [90, 10],  # near a's end -> a is flipped
                           [51, 30], [49, 40],            # near b's start
                           [200, 200]], np.float32)       # far from both
    assignment, oriented = assign_electrodes(electrodes, [a, b], max_distance=5)
    assert assignment.catheter.tolist() == [0, 0, 0, 1, 1, -1]
    assert assignment.index.tolist() == [0, 2, 1, 0, 1, -1]
    assert oriented[0][0].tolist() == [100, 10]  # a now starts at its tip
    assert oriented[1][0].tolist() == [50, 0]
    assert assignment.arc[:3] == pytest.approx([5, 15, 10])


def test_no_centrelines_or_no_electrodes():
    assignment, oriented = assign_electrodes(np.zeros((2, 2)), [])
    assert assignment.catheter.tolist() == [-1, -1] and oriented == []
    assignment, oriented = assign_electrodes(np.zeros((0, 2)), [np.zeros((3, 2))])
    assert len(assignment.catheter) == 0 and len(oriented) == 1


def test_projection_onto_several_lines_with_empty_and_single_point_ones():
    from cathx.postprocess.assignment import project_to_polylines

    points = np.array([[0, 0], [10, 4]])  # integers: the maths runs in float64 all the same
    lines = [np.zeros((0, 2)), np.array([[3.0, 4.0]]), np.zeros((0, 2)), np.array([[10.0, 0.0], [20.0, 0.0]])]
    distance, arc = project_to_polylines(points, lines)
    assert distance.shape == arc.shape == (4, 2)
    assert np.isinf(distance[0]).all() and np.isnan(arc[0]).all()  # an empty line: nothing
    assert distance[1] == pytest.approx([5.0, 7.0]) and arc[1] == pytest.approx([0.0, 0.0])  # a point
    assert np.isinf(distance[2]).all()
    # beyond the segment's start the nearest point is its end point (t clipped to [0, 1])
    assert distance[3] == pytest.approx([10.0, 4.0]) and arc[3] == pytest.approx([0.0, 0.0])
    beyond, along = project_to_polylines(np.array([[25.0, 3.0]]), [np.array([[10.0, 0.0], [20.0, 0.0]])])
    assert beyond[0, 0] == pytest.approx(np.hypot(5.0, 3.0)) and along[0, 0] == pytest.approx(10.0)
    none, _ = project_to_polylines(np.zeros((0, 2)), lines)
    assert none.shape == (4, 0)


def test_assignment_reach_is_six_pixels_by_default_and_types_are_fixed():
    line = np.stack([np.arange(0, 50), np.zeros(50)], 1)
    electrodes = np.array([[10.0, 5.9], [20.0, 6.1], [30.0, -5.5]])
    assignment, oriented = assign_electrodes(electrodes, [line])
    assert assignment.catheter.tolist() == [0, -1, 0]
    assert assignment.catheter.dtype == np.int64 and assignment.index.dtype == np.int64
    assert assignment.arc.dtype == np.float32 and assignment.distance.dtype == np.float32
    assert assignment.index.tolist() == [0, -1, 1]
    assert np.isnan(assignment.arc[1]) and np.isinf(assignment.distance[1])
    assert assignment.distance[[0, 2]] == pytest.approx([5.9, 5.5])
    assert oriented[0].dtype == np.float32 and oriented[0][0].tolist() == [0.0, 0.0]  # tip already first


def test_assignment_without_centrelines_or_electrodes_returns_full_fields():
    assignment, _ = assign_electrodes(np.array([[1.0, 2.0]]), [])
    assert assignment.index.tolist() == [-1] and np.isnan(assignment.arc).all() and np.isinf(assignment.distance).all()
    one, oriented = assign_electrodes(np.array([[1.0, 0.0]]), [np.array([[0, 0], [5, 0]])])
    assert one.catheter.tolist() == [0] and one.index.tolist() == [0] and one.arc.tolist() == [1.0]
    assert oriented[0].tolist() == [[0.0, 0.0], [5.0, 0.0]]


def test_the_nearest_of_two_lines_takes_the_electrode_and_the_farther_end_flips():
    low = np.stack([np.arange(0, 41), np.zeros(41)], 1)
    high = np.stack([np.arange(0, 41), np.full(41, 4.0)], 1)
    electrodes = np.array([[38.0, 1.0], [30.0, 3.0], [36.0, 3.5]])
    assignment, oriented = assign_electrodes(electrodes, [low, high])
    assert assignment.catheter.tolist() == [0, 1, 1]
    assert oriented[0][0].tolist() == [40.0, 0.0] and oriented[1][0].tolist() == [40.0, 4.0]
    assert assignment.index.tolist() == [0, 1, 0] and assignment.arc.tolist() == pytest.approx([2.0, 10.0, 4.0])


def test_stack_polylines_by_hand():
    from cathx.postprocess.assignment import stack_polylines

    vertices, bounds = stack_polylines([np.array([[0, 0], [1, 1]]), np.zeros((0, 2)), [[5, 6]]], np.float32)
    assert vertices.tolist() == [[0, 0], [1, 1], [5, 6]] and vertices.dtype == np.float32
    assert bounds.tolist() == [0, 2, 2, 3] and vertices.flags["C_CONTIGUOUS"]
    empty, none = stack_polylines([])
    assert empty.shape == (0, 2) and none.tolist() == [0]
