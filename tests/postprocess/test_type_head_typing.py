"""Catheters typed by a network's type head: the probability reading, analyse_frame and tracking."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.catheter_type import type_from_probabilities
from cathx.postprocess.results import analyse_frame, rescale_results
from cathx.postprocess.tracking import Tracker
from cathx.structures import TYPE_HEAD_CLASSES
from postprocess.test_results_tracking import _frame


def _probabilities(rows: int, cols: int, kind: str, level: float = 0.9) -> np.ndarray:
    """(T, rows, cols): ``kind`` at probability ``level`` in every cell, the rest spread evenly."""
    probabilities = np.full((len(TYPE_HEAD_CLASSES), rows, cols), (1 - level) / (len(TYPE_HEAD_CLASSES) - 1),
                            np.float32)
    probabilities[TYPE_HEAD_CLASSES.index(kind)] = level
    return probabilities


def test_type_is_the_mean_over_the_cells_the_centreline_crosses():
    probabilities = np.zeros((5, 2, 2), np.float32)
    probabilities[0, 0, 0] = 1.0  # cell (0, 0): cs_decapolar
    probabilities[3, 0, 1] = 1.0  # cell (0, 1): lasso
    probabilities[3, 1, 1] = 1.0  # cell (1, 1): lasso
    # a 16x16 frame: cells are 8 px; the points cross cells (0,0), (0,1) and (1,1), (0,0) three times
    points = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [12.0, 4.0], [12.0, 12.0]])
    kind, confidence = type_from_probabilities(probabilities, points, (16, 16))
    assert kind == "lasso" and confidence == pytest.approx(2 / 3)  # each cell counted once
    assert type_from_probabilities(probabilities, points[:3], (16, 16)) == ("cs_decapolar", 1.0)
    assert type_from_probabilities(probabilities, np.zeros((0, 2)), (16, 16)) == ("unknown", 0.0)


def test_points_outside_the_frame_read_the_border_cells():
    probabilities = np.zeros((5, 1, 2), np.float32)
    probabilities[1, 0, 1] = 1.0
    assert type_from_probabilities(probabilities, np.array([[40.0, -3.0]]), (8, 16))[0] == "quadripolar"


def test_analyse_frame_takes_the_heads_type_and_confidence():
    mask, peaks = _frame()
    rules = analyse_frame(mask, peaks)
    assert sorted(c.type for c in rules.catheters) == ["cs_decapolar", "quadripolar"]
    assert all(c.confidence is None for c in rules.catheters)
    head = analyse_frame(mask, peaks, type_probabilities=_probabilities(12, 16, "lasso", 0.7))
    assert [c.type for c in head.catheters] == ["lasso", "lasso"]
    assert [c.confidence for c in head.catheters] == pytest.approx([0.7, 0.7])
    assert head.type_probabilities.shape == (5, 12, 16)
    assert rescale_results(head, (192, 256)).type_probabilities is head.type_probabilities


def test_tracker_votes_the_heads_type_frame_after_frame():
    tracker = Tracker()
    mask, peaks = _frame()
    for _ in range(3):
        results = tracker.update(analyse_frame(mask, peaks, type_probabilities=_probabilities(12, 16, "ablation")))
    assert [c.type for c in results.catheters] == ["ablation", "ablation"]
    # one frame where the head says pacing does not flip the track's type (hysteresis)
    results = tracker.update(analyse_frame(mask, peaks, type_probabilities=_probabilities(12, 16, "pacing")))
    assert [c.type for c in results.catheters] == ["ablation", "ablation"]


def test_electrode_owners_match_within_the_radius_only():
    from types import SimpleNamespace

    from cathx.postprocess.type_evaluation import electrode_owners

    sample = SimpleNamespace(electrodes=np.array([[10.0, 10.0], [50.0, 10.0]]), electrode_catheter_ids=np.array([1, 0]))
    owners = electrode_owners(np.array([[12.0, 11.0], [50.0, 14.0], [30.0, 30.0]]), sample, match_px=3.0)
    assert owners.tolist() == [1, -1, -1]  # 2.2 px: matched; 4 px and far: not
    assert electrode_owners(np.zeros((0, 2)), sample).shape == (0,)
    none = SimpleNamespace(electrodes=np.zeros((0, 2)), electrode_catheter_ids=np.zeros(0, np.int64))
    assert electrode_owners(np.array([[1.0, 1.0]]), none).tolist() == [-1]
