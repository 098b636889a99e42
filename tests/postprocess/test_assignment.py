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
