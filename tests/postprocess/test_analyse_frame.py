"""analyse_frame on hand-drawn masks: defaults, fields, splits and the learned decision's inputs."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.catheter_type import mean_type_probabilities
from cathx.postprocess.results import analyse_frame


def _line_mask(x0: int = 5, x1: int = 56, value: int = 255) -> np.ndarray:
    mask = np.zeros((64, 64), np.uint8)
    mask[20:22, x0:x1] = value  # centreline on y = 20, from x0 to x1 - 1
    return mask


def _peaks(rows) -> np.ndarray:
    return np.array(rows, np.float32).reshape(-1, 5)


def test_fields_by_hand():
    # four even rings near the right end (the tip) and one electrode 6.5 px off the line
    peaks = _peaks([[50, 21, 0.9, 2, 2], [45, 21, 0.8, 2, 2], [40, 21, 0.7, 2, 2], [35, 21, 0.6, 2, 2],
                    [30, 26.5, 0.5, 3, 4]])
    results = analyse_frame(_line_mask(), peaks)
    assert results.image_size == (64, 64)
    assert results.mask.dtype == np.uint8 and set(np.unique(results.mask).tolist()) == {0, 1}  # 0/255 in
    assert results.electrodes.tolist() == peaks[:, :2].tolist() and results.scores.tolist() == peaks[:, 2].tolist()
    assert results.sizes.tolist() == peaks[:, 3:5].tolist()
    assert results.electrode_catheter.tolist() == [0, 0, 0, 0, -1]  # 6.5 px: beyond the default 6 px reach
    assert results.electrode_index.tolist() == [0, 1, 2, 3, -1]
    assert results.electrode_ids.dtype == np.int64 and results.electrode_ids.tolist() == [-1] * 5
    assert results.electrode_catheter.dtype == np.int64 and results.electrode_index.dtype == np.int64
    [catheter] = results.catheters
    assert catheter.type == "quadripolar" and not catheter.closed and catheter.confidence is None
    assert catheter.centreline[0].tolist() == [55.0, 20.0]  # oriented from the tip
    assert results.type_probabilities is None and results.meta == {}
    wider = analyse_frame(_line_mask(), peaks, max_distance=7.0)
    assert wider.electrode_catheter.tolist() == [0, 0, 0, 0, 0]


def test_min_length_is_sixteen_pixels_by_default():
    assert len(analyse_frame(_line_mask(10, 27), None).catheters) == 1  # a 16 px centreline
    assert len(analyse_frame(_line_mask(10, 26), None).catheters) == 0  # 15 px
    assert len(analyse_frame(_line_mask(10, 27), None, min_length=17).catheters) == 0


def test_pieces_without_electrodes_need_32_pixels_when_electrodes_were_detected():
    ring = _peaks([[50, 21, 0.9, 2, 2], [45, 21, 0.8, 2, 2]])
    mask = _line_mask(20, 60)  # 40 px, carries the electrodes
    mask[40:42, 5:36] = 255  # a bare 30 px piece
    assert len(analyse_frame(mask, ring).catheters) == 1
    assert len(analyse_frame(mask, ring, min_bare_length=30).catheters) == 2
    assert len(analyse_frame(mask, _peaks([])).catheters) == 1  # a detector ran and found none: 40 px stays
    assert len(analyse_frame(mask, None).catheters) == 2  # no detector: every piece of 16 px counts
    mask[40:42, 5:38] = 255  # 32 px
    assert len(analyse_frame(mask, ring).catheters) == 2


def test_no_peaks_or_no_mask():
    results = analyse_frame(_line_mask(), None)
    assert results.electrodes.shape == (0, 2) and results.electrodes.dtype == np.float32
    assert results.scores.shape == (0,) and results.sizes.shape == (0, 2) and len(results.catheters) == 1
    empty = analyse_frame(None, _peaks([[1, 2, 0.5, 2, 2]]))
    assert empty.image_size == (0, 0) and empty.mask is None and empty.catheters == []
    assert empty.electrode_catheter.tolist() == [-1] and empty.electrode_index.tolist() == [-1]


def test_a_mask_over_half_the_frame_gets_no_centrelines():
    half = np.zeros((10, 10), np.uint8)
    half[:5] = 1
    assert "skipped_centrelines" not in analyse_frame(half, None).meta  # exactly half: still a mask
    more = np.zeros((10, 10), np.uint8)
    more[:6] = 1
    skipped = analyse_frame(more, None)
    assert skipped.catheters == [] and skipped.meta["skipped_centrelines"] == "mask covers 60% of the frame"


def test_a_gap_over_twelve_pixels_splits_a_row_into_two_catheters():
    rows = lambda gap: _peaks([[x, 20, 0.9, 2, 2] for x in (50, 46, 42, 42 - gap, 38 - gap, 34 - gap)])
    split = analyse_frame(_line_mask(), rows(12.5))
    assert len(split.catheters) == 2 and split.electrode_catheter.tolist() == [0, 0, 0, 1, 1, 1]
    assert split.electrode_index.tolist() == [0, 1, 2, 0, 1, 2]
    # the second piece is re-oriented to start at its own first ring
    assert split.catheters[1].centreline[0, 0] > split.catheters[1].centreline[-1, 0]
    assert not split.catheters[0].closed and not split.catheters[1].closed
    whole = analyse_frame(_line_mask(), rows(11.5))
    assert len(whole.catheters) == 1 and whole.electrode_index.tolist() == [0, 1, 2, 3, 4, 5]
    assert len(analyse_frame(_line_mask(), rows(12.5), split_gap=13.0).catheters) == 1


def test_the_learned_decision_sees_the_head_along_each_catheter():
    from cathx.postprocess.type_classifier import FEATURE_NAMES
    from cathx.structures import TYPE_HEAD_CLASSES

    seen = []

    class Recorder:
        def decide(self, features):
            seen.extend(np.asarray(features))
            return [("lasso", 0.25)] * len(features)

    probabilities = np.zeros((5, 8, 8), np.float32)
    probabilities[3, 2, 5:] = 1.0  # the cells the line crosses on the right (y 16-23, x 40-63): lasso
    probabilities[0] = 1.0 - probabilities[3]
    peaks = _peaks([[50, 21, 0.9, 2, 2], [45, 21, 0.8, 2, 2]])
    results = analyse_frame(_line_mask(), peaks, type_probabilities=probabilities, type_classifier=Recorder())
    [catheter] = results.catheters
    assert (catheter.type, catheter.confidence) == ("lasso", 0.25)
    head = mean_type_probabilities(probabilities, catheter.centreline, (64, 64))
    named = dict(zip(FEATURE_NAMES, seen[0].tolist()))
    assert [named[f"head_{kind}"] for kind in TYPE_HEAD_CLASSES] == pytest.approx(head.tolist()) and head[3] > 0
    assert named["count"] == pytest.approx(0.2)  # two electrodes
    # at the electrodes (x 45-50, y 21: cells 5 and 6 of row 2) the head says lasso only
    assert [named[f"electrode_head_{kind}"] for kind in TYPE_HEAD_CLASSES] == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert results.type_probabilities.dtype == np.float32 and results.type_probabilities.shape == (5, 8, 8)
    assert results.type_probabilities is not probabilities or probabilities.dtype == np.float32
    # the head alone: its type along the centreline, with its mean probability
    alone = analyse_frame(_line_mask(), peaks, type_probabilities=probabilities)
    kind, confidence = alone.catheters[0].type, alone.catheters[0].confidence
    assert kind == ("lasso" if head[3] > head[0] else "cs_decapolar") and confidence == pytest.approx(head.max())


def test_electrodes_no_centreline_took_form_rows_of_their_own():
    # the line holds two rings; off the mask (20 px below it) four even rings 5 px apart, and one
    # lone electrode far from everything
    peaks = _peaks([[50, 21, 0.9, 2, 2], [45, 21, 0.9, 2, 2],
                    [20, 41, 0.9, 2, 2], [25, 41, 0.8, 2, 2], [30, 41, 0.7, 2, 2], [35, 41, 0.6, 2, 2],
                    [60, 60, 0.9, 2, 2]])
    results = analyse_frame(_line_mask(), peaks)
    assert len(results.catheters) == 2
    assert results.electrode_catheter.tolist() == [0, 0, 1, 1, 1, 1, -1]
    row = results.catheters[1]
    assert row.type == "quadripolar" and not row.closed
    # walked from an end (both ends lie 7.5 px from the row's centre: the first listed)
    assert row.centreline.tolist() == [[20, 41], [25, 41], [30, 41], [35, 41]]
    assert results.electrode_index[2:6].tolist() == [0, 1, 2, 3] and results.electrode_index[6] == -1
    off = analyse_frame(_line_mask(), peaks, loose_rows=False)
    assert len(off.catheters) == 1 and off.electrode_catheter.tolist() == [0, 0, -1, -1, -1, -1, -1]
    # the same row 9 px below the line: beyond its 6 px reach but within twice it, so the line's
    # own rings (as a lasso's beside its skeleton), not a catheter of their own
    near = peaks.copy()
    near[2:6, 1] = 30
    beside = analyse_frame(_line_mask(), near)
    assert len(beside.catheters) == 1 and beside.electrode_catheter.tolist() == [0, 0, -1, -1, -1, -1, -1]


def test_loose_rows_link_within_the_split_gap():
    from cathx.postprocess.results import loose_electrode_rows

    points = np.array([[0.0, 0.0], [12.0, 0.0], [24.1, 0.0], [100.0, 0.0], [5.0, 5.0]])
    # 0-1 are 12 px apart (linked), 1-2 12.1 px (not); 3 is alone; 4 is taken by a catheter
    rows = loose_electrode_rows(points, np.array([True, True, True, True, False]), 12.0)
    assert [sorted(r.tolist()) for r in rows] == [[0, 1]]
    assert loose_electrode_rows(points[:1], np.array([True]), 12.0) == []


def test_a_detection_only_frame_reads_the_type_cells_at_the_frames_size():
    """Without a mask the frame size was (0, 0), so every point read the type head's last cell:
    a loose row of rings at x 100-116, y 100 of a 256-px frame read cell (31, 31), not (12-14, 12)."""
    from cathx.structures import TYPE_HEAD_CLASSES

    probabilities = np.zeros((len(TYPE_HEAD_CLASSES), 32, 32), np.float32)
    probabilities[TYPE_HEAD_CLASSES.index("pacing")] = 1.0  # everywhere but around the row
    probabilities[:, 11:14, 11:16] = 0.0
    probabilities[TYPE_HEAD_CLASSES.index("lasso"), 11:14, 11:16] = 1.0
    peaks = _peaks([[100, 100, 0.9, 3, 3], [108, 100, 0.9, 3, 3], [116, 100, 0.9, 3, 3]])
    results = analyse_frame(None, peaks, type_probabilities=probabilities, image_size=(256, 256))
    assert results.image_size == (256, 256)
    assert [c.type for c in results.catheters] == ["lasso"]
