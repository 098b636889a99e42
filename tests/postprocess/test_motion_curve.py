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
    tracker, curve = Tracker(), MotionCurve(max_gap=2, smoothing=3)
    for t, shift in enumerate(shifts):
        curve.add(tracker.update(motion_frame(shift)), frame=t)
    motion = curve.curve()
    assert motion.quality.tolist() == ["held", "measured", "measured", "measured", "held", "held", "missing"]
    # centred 3-frame mean over the values that exist, ends included
    assert np.allclose(motion.displacement[:6, 0], [0, 2 / 3, 2, 10 / 3, 4, 4])
    assert np.isnan(motion.displacement[6]).all() and motion.rows()[6]["dx"] == ""


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
