from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from cathx.postprocess.results import analyse_frame, rescale_results
from cathx.postprocess.motion import MotionCurve
from cathx.postprocess.tracking import Tracker, centreline_distance, match


def _frame(shift: float = 0.0):
    """A CS-like catheter along y=30 with 10 paired electrodes near its left end + a quadripolar."""
    mask = np.zeros((96, 128), np.uint8)
    x0 = int(10 + shift)
    cv2.line(mask, (x0, 30), (x0 + 100, 30), 1, 2)
    cv2.line(mask, (20, 60), (20 + 80, 90), 1, 2)
    xs = x0 + np.cumsum([0, 2, 5, 2, 5, 2, 5, 2, 5, 2]) + 1.0
    cs = np.stack([xs, np.full(10, 30.5), np.full(10, 0.9), np.full(10, 2), np.full(10, 2)], 1)
    quad = np.array([[100 - 5 * 8 * k / 8.56, 90 - 5 * 3 * k / 8.56, 0.8, 2, 2] for k in range(4)])
    quad[:, :2] = np.array([[99.0, 90.0], [94.3, 88.2], [89.6, 86.5], [84.9, 84.7]])
    return mask, np.concatenate([cs, quad]).astype(np.float32)


def test_analyse_frame_types_and_json():
    mask, peaks = _frame()
    results = analyse_frame(mask, peaks, meta={"frame": 3, "name": "f3"})
    types = sorted(c.type for c in results.catheters)
    assert types == ["cs_decapolar", "quadripolar"]
    cs = next(c for c in results.catheters if c.type == "cs_decapolar")
    assert cs.centreline[0, 0] < 15  # oriented from the electrode end
    members = results.electrode_catheter == results.catheters.index(cs)
    assert sorted(results.electrode_index[members].tolist()) == list(range(10))
    payload = json.loads(results.to_json())
    assert len(payload["electrodes"]) == 14 and payload["meta"]["frame"] == 3
    assert payload["electrodes"][0]["catheter_type"] == "cs_decapolar"
    overlay = results.plot(np.zeros((96, 128), np.float32))
    assert overlay.shape == (96, 128, 3) and overlay.dtype == np.uint8 and overlay.any()


@pytest.mark.parametrize("tip", [0, 3])
def test_an_ablation_tip_at_either_end_is_electrode_zero(tip):
    # A centreline cut short at both ends (x 10..50 on y = 30): electrodes at x 15, 25, 35 and 45
    # (even gaps) sit 5 px from either end, so nothing but their sizes tells the tip. The box of
    # the one at either end is 2.8 px long against 2 px (ratio 1.4 > 1.3): an ablation tip, so the
    # catheter runs from it and it is index 0, whichever way the skeleton was traced.
    mask = np.zeros((64, 80), np.uint8)
    cv2.line(mask, (10, 30), (50, 30), 1, 1)
    peaks = np.array([[x, 30.0, 0.9, 2.0, 2.0] for x in (15.0, 25.0, 35.0, 45.0)], np.float32)
    peaks[tip, 3] = 2.8
    results = analyse_frame(mask, peaks, min_length=8)
    (catheter,) = results.catheters
    assert catheter.type == "ablation"
    assert results.electrode_index[tip] == 0 and sorted(results.electrode_index.tolist()) == [0, 1, 2, 3]
    assert abs(catheter.centreline[0, 0] - peaks[tip, 0]) <= 5.5  # the centreline starts at the tip


def test_rescale_maps_pixel_centres():
    mask, peaks = _frame()
    results = analyse_frame(mask, peaks)
    big = rescale_results(results, (192, 256))
    assert np.allclose(big.electrodes, (results.electrodes + 0.5) * 2 - 0.5)
    assert big.image_size == (192, 256)


def test_match_gates_costs():
    cost = np.array([[1.0, 9.0], [9.0, 50.0]])
    assert match(cost, 10.0) == [(0, 0), (1, 1)] or match(cost, 10.0) == [(0, 1), (1, 0)]
    assert match(np.array([[1.0, 100.0], [100.0, 100.0]]), 10.0) == [(0, 0)]


def test_centreline_distance_ignores_direction():
    a = np.array([[0, 0], [10, 0]], np.float32)
    assert centreline_distance(a, a[::-1]) == 0.0
    assert abs(centreline_distance(a, a + [0, 3]) - 3.0) < 1e-5


def test_tracker_keeps_ids_and_cs_curve_follows_shift():
    tracker, curve = Tracker(), MotionCurve()
    ids = []
    for t, shift in enumerate([0, 2, 4, 3, 1]):
        mask, peaks = _frame(shift)
        results = tracker.update(analyse_frame(mask, peaks))
        ids.append(sorted((c.type, c.id) for c in results.catheters))
        curve.add(results, frame=t)
        if t == 0:
            first_ids = results.electrode_ids.copy()
        else:
            assert np.array_equal(results.electrode_ids, first_ids)
    assert all(i == ids[0] for i in ids)
    motion = curve.curve()
    assert motion.frames.tolist() == [0, 1, 2, 3, 4] and motion.quality.tolist() == ["measured"] * 5
    assert np.allclose(motion.displacement[:, 0], [0, 2, 4, 3, 1], atol=0.01)
    assert np.allclose(motion.displacement[:, 1], 0, atol=0.01)


def test_new_catheter_gets_new_id():
    tracker = Tracker()
    mask, peaks = _frame()
    first = tracker.update(analyse_frame(mask, peaks))
    empty = tracker.update(analyse_frame(np.zeros_like(mask), np.zeros((0, 5))))
    assert empty.catheters == []
    moved = np.zeros_like(mask)
    cv2.line(moved, (10, 5), (120, 5), 1, 2)
    later = tracker.update(analyse_frame(moved, None))
    assert later.catheters[0].id not in {c.id for c in first.catheters}


def test_split_electrode_groups_on_a_shared_centreline():
    from cathx.postprocess.results import split_electrode_groups

    line = np.stack([np.arange(0, 101, dtype=np.float32), np.zeros(101, np.float32)], 1)
    arc = np.array([2, 5, 8, 11, 60, 64, 68], np.float32)
    groups = split_electrode_groups(arc, line, split_gap=12)
    assert [g.tolist() for g, _ in groups] == [[0, 1, 2, 3], [4, 5, 6]]
    assert groups[0][1][-1, 0] <= 57 and groups[1][1][0, 0] >= 57
    single = split_electrode_groups(np.array([2, 6, 10], np.float32), line)
    assert len(single) == 1 and len(single[0][1]) == 101


def test_split_at_junction_positions():
    from cathx.postprocess.results import split_electrode_groups

    line = np.stack([np.arange(0, 101, dtype=np.float32), np.zeros(101, np.float32)], 1)
    arc = np.array([2, 6, 10, 14, 18, 22], np.float32)
    groups = split_electrode_groups(arc, line, split_gap=12, junctions=np.array([12.0]))
    assert [g.tolist() for g, _ in groups] == [[0, 1, 2], [3, 4, 5]]


def test_full_frame_mask_gets_no_centrelines():
    results = analyse_frame(np.ones((64, 64), np.uint8), None)
    assert results.catheters == [] and "skipped_centrelines" in results.meta
