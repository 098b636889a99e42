"""Type-head targets: label maps drawn from centrelines and their per-cell reduction."""

from __future__ import annotations

import numpy as np

from cathx.data.type_targets import CONFLICT, cell_type_target, type_label_map
from cathx.structures import TYPE_HEAD_CLASSES


def test_label_map_draws_each_type_and_marks_crossings():
    horizontal = np.array([[0.0, 8.0], [15.0, 8.0]])
    vertical = np.array([[4.0, 0.0], [4.0, 15.0]])
    labels = type_label_map([horizontal, vertical], ["lasso", "pacing"], (16, 16), thickness=1)
    lasso, pacing = TYPE_HEAD_CLASSES.index("lasso") + 1, TYPE_HEAD_CLASSES.index("pacing") + 1
    assert labels[8, 12] == lasso and labels[2, 4] == pacing
    assert labels[8, 4] == CONFLICT  # where the two types cross
    assert labels[2, 12] == 0


def test_label_map_same_type_overlap_is_no_conflict_and_unknown_is_ignored():
    line = np.array([[0.0, 3.0], [15.0, 3.0]])
    labels = type_label_map([line, line], ["ablation", "ablation"], (8, 16), thickness=1)
    assert set(np.unique(labels)) == {0, TYPE_HEAD_CLASSES.index("ablation") + 1}
    unknown = type_label_map([line], ["unknown"], (8, 16), thickness=1)
    assert set(np.unique(unknown)) == {0, CONFLICT}
    assert not type_label_map([np.zeros((1, 2))], ["lasso"], (8, 8)).any()  # a single point draws nothing


def test_cell_target_takes_single_types_and_ignores_mixed_and_empty_cells():
    labels = np.zeros((16, 16), np.uint8)
    labels[2, 3] = 2  # cell (0, 0): quadripolar only
    labels[1, 9], labels[5, 12] = 1, 4  # cell (0, 1): two types
    labels[10, 2], labels[12, 3] = 3, CONFLICT  # cell (1, 0): a crossing
    target = cell_type_target(labels, stride=8)
    assert target.tolist() == [[1, -1], [-1, -1]]
    assert target.dtype == np.int64


def test_cell_target_pads_partial_cells():
    labels = np.zeros((10, 10), np.uint8)
    labels[9, 9] = 5  # pacing in the bottom-right partial cell
    target = cell_type_target(labels, stride=8)
    assert target.shape == (2, 2) and target[1, 1] == TYPE_HEAD_CLASSES.index("pacing")
