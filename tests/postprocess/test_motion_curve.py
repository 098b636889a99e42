"""MotionCurve on hand-made sequences: a CS catheter moving beside a still one."""

from __future__ import annotations

import numpy as np

from cathx.postprocess.motion import MotionCurve
from cathx.postprocess.tracking import Tracker
from track_scenes import cs_electrodes, motion_frame


def test_motion_curve_bridges_gap_and_flags_it():
    shifts = [(0, 0), (1, 0), (2, 1), None, None, (5, 4), (6, 4)]
    tracker, curve = Tracker(), MotionCurve()
    for t, shift in enumerate(shifts):
        curve.add(tracker.update(motion_frame(shift)), frame=t)
    motion = curve.curve()
    assert motion.catheter_id == 0
    assert motion.quality.tolist() == ["measured"] * 3 + ["interpolated"] * 2 + ["measured"] * 2
    expected = [[0, 0], [1, 0], [2, 1], [3, 2], [4, 3], [5, 4], [6, 4]]
    assert np.allclose(motion.displacement, expected, atol=1e-6)
    assert np.allclose(motion.position[0], cs_electrodes(20, 40).mean(axis=0))
    assert motion.electrodes.tolist() == [10, 10, 10, 0, 0, 10, 10]
    assert motion.coverage() == 1.0
    rows = motion.rows()
    assert rows[3]["quality"] == "interpolated" and rows[3]["dx"] == 3.0 and rows[3]["catheter_id"] == 0


def test_motion_curve_holds_ends_within_max_gap_and_smooths():
    shifts = [None, (0, 0), (2, 0), (4, 0), None, None, None]
    # the CS enters at frame 1: shown at once (confirmation: the test below)
    tracker, curve = Tracker(confirm_frames=1), MotionCurve(max_gap=2, smoothing=3)
    for t, shift in enumerate(shifts):
        curve.add(tracker.update(motion_frame(shift)), frame=t)
    motion = curve.curve()
    assert motion.quality.tolist() == ["held", "measured", "measured", "measured", "held", "held", "missing"]
    # centred 3-frame mean over the values that exist, ends included
    assert np.allclose(motion.displacement[:6, 0], [0, 2 / 3, 2, 10 / 3, 4, 4])
    assert np.isnan(motion.displacement[6]).all() and motion.rows()[6]["dx"] == ""


def test_a_cs_entering_after_the_first_frame_is_followed_once_its_track_shows_an_id():
    # A catheter that is not yet confirmed (id -1) is not followed: the curve starts with its id.
    tracker, curve = Tracker(), MotionCurve(max_gap=0)
    for t, shift in enumerate([None, (0, 0), (1, 0), (2, 0), (3, 0)]):
        results = tracker.update(motion_frame(shift))
        curve.add(results, frame=t)
    motion = curve.curve()
    assert motion.catheter_id == 1  # the still catheter of frame 0 is #0
    assert motion.quality.tolist() == ["missing", "missing", "missing", "measured", "measured"]
    assert np.allclose(motion.displacement[3:, 0], [0, 1])


def test_motion_curve_without_cs_is_all_missing():
    curve = MotionCurve()
    tracker = Tracker()
    for _ in range(3):
        curve.add(tracker.update(motion_frame(None)))
    motion = curve.curve()
    assert motion.catheter_id is None and motion.coverage() == 0.0
    assert motion.quality.tolist() == ["missing"] * 3


def test_a_frame_with_the_cs_centreline_but_no_electrodes_moves_by_the_centreline():
    from cathx.postprocess.results import Catheter, Results

    def centreline_only(dx: float) -> Results:
        line = motion_frame((dx, 0.0)).catheters[0].centreline  # the CS catheter's centreline there
        return Results(image_size=(128, 128), electrodes=np.zeros((0, 2), np.float32),
                       scores=np.zeros(0, np.float32), sizes=np.zeros((0, 2), np.float32),
                       electrode_catheter=np.zeros(0, np.int64), electrode_index=np.zeros(0, np.int64),
                       electrode_ids=np.zeros(0, np.int64),
                       catheters=[Catheter(id=0, type="cs_decapolar", centreline=line)])

    tracker, curve = Tracker(), MotionCurve()
    frames = [motion_frame((0.0, 0.0)), motion_frame((1.0, 0.0)), centreline_only(2.0), motion_frame((3.0, 0.0))]
    for t, frame in enumerate(frames):
        curve.add(tracker.update(frame), frame=t)
    motion = curve.curve()
    assert motion.quality.tolist() == ["measured", "measured", "partial", "measured"]
    assert motion.electrodes.tolist() == [10, 10, 0, 10]
    assert np.allclose(motion.displacement[:, 0], [0, 1, 2, 3], atol=0.25)
    assert np.allclose(motion.displacement[:, 1], 0, atol=0.25)


def _tracked(points, ids, kind="cs_decapolar", catheter_id=5, extra=()):
    """A tracked frame: one catheter ``catheter_id`` of type ``kind`` holding electrodes ``points``
    with tracked ids ``ids``; ``extra``: more (id, type, points, ids) catheters."""
    from cathx.postprocess.results import Catheter, Results

    catheters, electrodes, owner, electrode_ids = [], [], [], []
    for index, (cid, ctype, pts, eids) in enumerate([(catheter_id, kind, points, ids), *extra]):
        pts = np.asarray(pts, np.float32).reshape(-1, 2)
        catheters.append(Catheter(cid, ctype, pts if len(pts) > 1 else np.zeros((0, 2), np.float32)))
        electrodes.append(pts)
        owner += [index] * len(pts)
        electrode_ids += list(eids)
    count = len(owner)
    return Results((64, 64), electrodes=np.concatenate(electrodes), scores=np.ones(count, np.float32),
                   sizes=np.ones((count, 2), np.float32), electrode_catheter=np.asarray(owner, np.int64),
                   electrode_index=np.zeros(count, np.int64), electrode_ids=np.asarray(electrode_ids, np.int64),
                   catheters=catheters)


BASE = np.array([[10.0, 10.0], [14.0, 10.0], [18.0, 12.0]])


def test_translation_by_hand_with_three_electrodes_measured_and_two_partial():
    curve = MotionCurve()
    for t, shift in enumerate([(0, 0), (2, 1), (4, 2)]):
        curve.add(_tracked(BASE + shift, [7, 8, 9]), frame=10 + t)
    curve.add(_tracked((BASE + (6, 3))[:2], [7, 8]), frame=13)  # two electrodes: below min_electrodes
    motion = curve.curve()
    assert motion.frames.tolist() == [10, 11, 12, 13] and motion.frames.dtype == np.int64
    assert motion.displacement.tolist() == [[0, 0], [2, 1], [4, 2], [6, 3]]
    assert motion.quality.tolist() == ["measured", "measured", "measured", "partial"]
    assert motion.electrodes.tolist() == [3, 3, 3, 2] and motion.catheter_id == 5
    assert np.allclose(motion.position, BASE.mean(axis=0) + motion.displacement)
    rows = motion.rows()
    assert list(rows[0]) == list(motion.COLUMNS)
    assert rows[1] == {"frame": 11, "x": round(float(BASE[:, 0].mean() + 2), 3), "y": round(float(BASE[:, 1].mean() + 1), 3),
                       "dx": 2.0, "dy": 1.0, "quality": "measured", "electrodes": 3, "catheter_id": 5}


def test_anchors_are_the_mean_over_all_sightings():
    # electrode 9 is seen 1 px off in the first frame only: the second pass measures against the
    # mean of its sightings, so no frame carries the whole first-frame error
    curve = MotionCurve(min_electrodes=1)
    frames = [BASE + [[0, 0], [0, 0], [1, 0]], BASE + 1.0, BASE + 2.0, BASE + 3.0]
    for t, points in enumerate(frames):
        curve.add(_tracked(points, [7, 8, 9]), frame=t)
    motion = curve.curve()
    assert motion.displacement[0].tolist() == [0.0, 0.0]  # the first measured frame stays the zero
    assert np.allclose(motion.displacement[1:, 1], [1.0, 2.0, 3.0])
    assert np.allclose(motion.displacement[1:, 0], [1.0, 2.0, 3.0], atol=0.35)


def test_a_centreline_frame_moves_with_the_refined_frame_it_was_measured_from():
    """Frames 2 and 3 show the same centreline, frame 3 without electrodes: it is frame 2 shifted
    by nothing, so it must keep frame 2's value after the second pass refines it (0 -> 0.417 by
    hand below); it kept the first pass's 0, a 0.42 px jump between identical frames."""
    line = np.array([[0.0, 5.0], [40.0, 5.0]], np.float32)

    def frame(points, ids):
        results = _tracked(points, ids) if len(points) else _tracked(np.zeros((0, 2)), [])
        results.catheters[0].centreline = line
        return results

    curve = MotionCurve(min_electrodes=1)
    for t, (points, ids) in enumerate([([[0, 0], [10, 0]], [0, 1]), ([[2, 0], [10, 0]], [0, 1]),
                                        ([[10, 0]], [1]), ([], [])]):
        curve.add(frame(points, ids), frame=t)
    motion = curve.curve()
    # anchors after the first pass (d = 0, 1, 0): ring 0 at mean(0, 2 - 1) = 0.5, ring 1 at
    # mean(10, 10 - 1, 10) = 9.667; measured again: -0.083, 0.917, 0.333, less the first: 0, 1, 0.417
    assert motion.quality.tolist() == ["measured", "measured", "measured", "partial"]
    assert np.allclose(motion.displacement[:, 0], [0.0, 1.0, 5 / 12, 5 / 12], atol=1e-6)


def test_rows_of_missing_values_and_no_catheter():
    from cathx.postprocess.motion import Motion

    motion = Motion(np.array([0, 1]), np.array([[np.nan, np.nan], [1.23456, 2.0]]),
                    np.array([[np.nan, np.nan], [0.5, -0.25]]), np.array(["missing", "measured"]), np.array([0, 4]))
    assert motion.rows() == [
        {"frame": 0, "x": "", "y": "", "dx": "", "dy": "", "quality": "missing", "electrodes": 0, "catheter_id": ""},
        {"frame": 1, "x": 1.235, "y": 2.0, "dx": 0.5, "dy": -0.25, "quality": "measured", "electrodes": 4,
         "catheter_id": ""}]
    assert motion.coverage() == 0.5
    empty = Motion(np.zeros(0), np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, str), np.zeros(0))
    assert empty.coverage() == 0.0 and empty.rows() == []


def test_the_reference_is_the_track_typed_cs_with_most_evidence():
    curve = MotionCurve()
    piece = ((3, "cs_decapolar", BASE[:1] + 30, [20]),)
    curve.add(_tracked(BASE, [7, 8, 9], extra=piece))  # votes: 5 -> 1 + 3, 3 -> 1 + 1
    curve.add(_tracked(BASE, [7, 8, 9], kind="quadripolar", extra=piece))  # typed otherwise this frame
    assert curve.frames == [0, 1] and curve._cs_votes == {5: 4, 3: 4}
    assert curve.reference_id() == 3  # a tie goes to the lower id
    curve.add(_tracked(BASE, [7, 8, 9]))
    assert curve.reference_id() == 5 and curve.curve().catheter_id == 5
    assert MotionCurve().reference_id() is None


def test_bridge_and_smooth_by_hand():
    from cathx.postprocess.motion import _bridge, _smooth

    values = np.array([[np.nan, 0], [np.nan, 0], [0.0, 0], [np.nan, 0], [np.nan, 0], [3.0, 0],
                       [np.nan, 0], [np.nan, 0], [np.nan, 0]])
    quality = np.array(["missing", "missing", "measured", "missing", "missing", "measured", "missing", "missing",
                        "missing"], dtype=object)
    _bridge(values, quality, max_gap=2)
    assert values[:, 0].tolist()[:8] == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 3.0] and np.isnan(values[8, 0])
    assert quality.tolist() == ["held", "held", "measured", "interpolated", "interpolated", "measured", "held",
                                "held", "missing"]
    wide = np.array([[0.0, 0], [np.nan, 0], [np.nan, 0], [np.nan, 0], [4.0, 0]])
    flags = np.array(["measured", "missing", "missing", "missing", "measured"], dtype=object)
    _bridge(wide, flags, max_gap=2)  # a gap of 3 > max_gap: left missing
    assert flags.tolist() == ["measured", "missing", "missing", "missing", "measured"] and np.isnan(wide[1:4, 0]).all()
    exact = np.array([[0.0, 0], [np.nan, 0], [np.nan, 0], [3.0, 0]])
    flags = np.array(["measured", "missing", "missing", "measured"], dtype=object)
    _bridge(exact, flags, max_gap=2)  # a gap of exactly max_gap frames: bridged
    assert exact[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    smoothed = _smooth(np.array([[0.0, 0], [3.0, 3], [np.nan, np.nan], [6.0, 0]]), 3)
    assert smoothed[0].tolist() == [1.5, 1.5] and smoothed[1].tolist() == [1.5, 1.5]
    assert np.isnan(smoothed[2]).all() and smoothed[3].tolist() == [6.0, 0.0]
