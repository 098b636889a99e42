"""Tracker and MotionCurve on hand-made track scenarios (Results built directly, no masks)."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.results import Catheter, Results
from cathx.postprocess.tracking import MotionCurve, Tracker, TypeVote, align_to_template

CS_GAPS = np.cumsum([0, 2, 5, 2, 5, 2, 5, 2, 5, 2]).astype(np.float64)  # paired rings, tip first


def _cs(x0: float, y0: float) -> np.ndarray:
    """Ten CS electrodes along +x from (x0, y0), tip first."""
    return np.stack([x0 + CS_GAPS, np.full(10, y0)], 1)


def _quad(x0: float, y0: float) -> np.ndarray:
    """Four evenly spaced electrodes along +y from (x0, y0), tip first."""
    return np.stack([np.full(4, x0), y0 + 6.0 * np.arange(4)], 1)


def _frame(catheters: list[tuple[str, np.ndarray]], shuffle: int | None = None) -> Results:
    """Results with one catheter per (type, electrodes tip first); centreline through the electrodes
    extended 10 px beyond the last one. ``shuffle``: seed to permute the electrode rows."""
    points, owner, index, found = [], [], [], []
    for c, (kind, electrodes) in enumerate(catheters):
        electrodes = np.asarray(electrodes, np.float64)
        points.append(electrodes)
        owner += [c] * len(electrodes)
        index += list(range(len(electrodes)))
        direction = electrodes[-1] - electrodes[0]
        direction = direction / max(np.linalg.norm(direction), 1e-9)
        line = np.vstack([electrodes, electrodes[-1] + 10 * direction]).astype(np.float32)
        found.append(Catheter(id=c, type=kind, centreline=line))
    points = np.concatenate(points) if points else np.zeros((0, 2))
    owner, index = np.asarray(owner, np.int64), np.asarray(index, np.int64)
    if shuffle is not None:
        order = np.random.default_rng(shuffle).permutation(len(points))
        points, owner, index = points[order], owner[order], index[order]
    n = len(points)
    return Results(image_size=(128, 128), electrodes=points.astype(np.float32), scores=np.ones(n, np.float32),
                   sizes=np.full((n, 2), 2.0, np.float32), electrode_catheter=owner, electrode_index=index,
                   electrode_ids=np.full(n, -1, np.int64), catheters=found)


def _id_of(results: Results, kind_of_electrode_at: np.ndarray) -> int:
    """Id of the catheter holding the electrode nearest ``kind_of_electrode_at`` (x, y)."""
    row = int(np.linalg.norm(results.electrodes - kind_of_electrode_at, axis=1).argmin())
    return int(results.electrode_catheter_ids()[row])


def test_type_vote_hysteresis_by_hand():
    vote = TypeVote(decay=0.9, margin=1.0, switch_frames=3, settle=1.0)
    assert vote.add("cs_decapolar") == "cs_decapolar" and vote.confidence == 1.0
    # scores cs 0.9, quad 1.0: quad leads by 0.1 < margin
    assert vote.add("quadripolar") == "cs_decapolar"
    assert vote.confidence == pytest.approx(0.9 / 1.9)
    assert vote.add("unknown") == "cs_decapolar"  # no electrodes seen: no evidence either way
    # scores cs 0.81, quad 0.9; each quad frame now leads by >= 1 (1.08, 1.97, 2.78)
    assert [vote.add("quadripolar") for _ in range(3)] == ["cs_decapolar"] * 2 + ["quadripolar"]
    assert vote.confidence == pytest.approx(3.3661 / (3.3661 + 0.59049), abs=1e-4)


def test_type_vote_follows_the_leader_until_settled():
    vote = TypeVote(decay=0.9, margin=1.0, switch_frames=3, settle=3.0)
    assert vote.add("lasso") == "lasso"
    assert vote.add("cs_decapolar") == "cs_decapolar"  # 2 votes < settle: the leader (1.0 > 0.9)
    assert vote.add("lasso") == "cs_decapolar"  # settled: lasso 1.81 leads cs 0.9 by less than 1


def test_type_flicker_suppressed_over_track():
    tracker = Tracker()
    seen = []
    for t in range(12):
        kind = "quadripolar" if t in (3, 7, 8) else "cs_decapolar"  # the frame's own classification
        results = tracker.update(_frame([(kind, _cs(20 + t, 40))]))
        seen.append((results.catheters[0].id, results.catheters[0].type))
        assert 0.0 < results.catheters[0].confidence <= 1.0
    assert seen == [(0, "cs_decapolar")] * 12
    assert results.catheters[0].confidence > 0.7


def test_missed_for_three_frames_keeps_id():
    tracker = Tracker()
    ids = []
    for t in range(10):
        catheters = [("quadripolar", _quad(90, 20 + t))]
        if not 4 <= t <= 6:  # the CS catheter, moving 2 px a frame, is missed in frames 4-6
            catheters.insert(0, ("cs_decapolar", _cs(10 + 2 * t, 60)))
        results = tracker.update(_frame(catheters))
        ids.append({c.type: c.id for c in results.catheters})
    assert [i["cs_decapolar"] for i in ids if "cs_decapolar" in i] == [0] * 7
    assert [i["quadripolar"] for i in ids] == [1] * 10


def test_crossing_catheters_keep_ids_through_a_merged_frame():
    """A CS catheter moving right crosses a quadripolar moving left; in the middle frame the mask
    merges them and one detection carries all 14 electrodes."""
    tracker = Tracker()
    for t in range(9):
        cs, quad = _cs(5 + 3 * t, 50), _quad(70 - 3 * t, 41)
        if t == 4:
            merged = np.vstack([cs, quad])
            results = tracker.update(_frame([("lasso", merged)]))
        else:
            results = tracker.update(_frame([("cs_decapolar", cs), ("quadripolar", quad)]))
        assert _id_of(results, cs[0]) == 0, t
        assert _id_of(results, quad[0]) == 1, t
        by_id = {c.id: c.type for c in results.catheters}
        assert by_id == {0: "cs_decapolar", 1: "quadripolar"}, t


def test_electrode_index_fixed_from_tip_when_shuffled_flipped_or_tip_missed():
    tracker = Tracker()
    first = tracker.update(_frame([("cs_decapolar", _cs(10, 30))]))
    x = np.round(first.electrodes[:, 0] - 10).astype(int)
    ids_by_x = dict(zip(x.tolist(), first.electrode_ids.tolist()))
    assert sorted(first.electrode_index.tolist()) == list(range(10))
    # Rows shuffled and the centreline oriented from the other end (indices reversed).
    flipped = _frame([("cs_decapolar", _cs(11, 30)[::-1])], shuffle=3)
    tracker.update(flipped)
    x = np.round(flipped.electrodes[:, 0] - 11).astype(int)
    assert dict(zip(x.tolist(), flipped.electrode_ids.tolist())) == ids_by_x
    from_tip = dict(zip(CS_GAPS.astype(int).tolist(), range(10)))
    assert dict(zip(x.tolist(), flipped.electrode_index.tolist())) == from_tip
    # The tip electrode missed: the others keep indices 1..9 and their ids.
    missing = _frame([("cs_decapolar", _cs(12, 30)[1:])], shuffle=4)
    tracker.update(missing)
    x = np.round(missing.electrodes[:, 0] - 12).astype(int)
    assert dict(zip(x.tolist(), missing.electrode_index.tolist())) == dict(
        zip(CS_GAPS[1:].astype(int).tolist(), range(1, 10)))
    assert all(ids_by_x[k] == v for k, v in zip(x.tolist(), missing.electrode_ids.tolist()))


def test_align_to_template_by_hand():
    template = np.stack([np.arange(5) * 4.0, np.zeros(5)], 1)  # slots 0..4 at x = 0, 4, ..., 16
    slots, cost = align_to_template(template[1:] + [0.5, 0.0], template, miss_cost=6.0)
    assert slots.tolist() == [1, 2, 3, 4]
    assert cost == pytest.approx(0.3 * 0.5, abs=1e-4)  # no shape residual, a shift of 0.5 px
    slots, _ = align_to_template(template[::-1], template, miss_cost=6.0)
    assert slots.tolist() == [4, 3, 2, 1, 0]


def test_align_with_rings_missed_inside_the_row():
    template = _cs(10, 30)
    seen = np.delete(template, [3, 6], axis=0) + [1.0, 0.5]
    ranks, _ = align_to_template(seen, template, miss_cost=8.0)
    assert ranks.tolist() == [0, 1, 2, 4, 5, 7, 8, 9]


def test_ring_seen_first_later_gets_its_index_and_others_keep_ids():
    tracker = Tracker()
    first = tracker.update(_frame([("cs_decapolar", np.delete(_cs(10, 30), 3, axis=0))]))
    ids = dict(zip(np.round(first.electrodes[:, 0]).astype(int).tolist(), first.electrode_ids.tolist()))
    later = tracker.update(_frame([("cs_decapolar", _cs(11, 30))], shuffle=1))
    x = np.round(later.electrodes[:, 0] - 1).astype(int)
    assert dict(zip(x.tolist(), later.electrode_index.tolist())) == dict(
        zip((10 + CS_GAPS).astype(int).tolist(), range(10)))
    assert all(ids[k] == v for k, v in zip(x.tolist(), later.electrode_ids.tolist()) if k in ids)
    assert len(set(later.electrode_ids.tolist())) == 10


def _motion_frame(shift: tuple[float, float] | None) -> Results:
    if shift is None:
        return _frame([("quadripolar", _quad(100, 100))])
    return _frame([("cs_decapolar", _cs(20 + shift[0], 40 + shift[1])), ("quadripolar", _quad(100, 100))])


def test_motion_curve_bridges_gap_and_flags_it():
    shifts = [(0, 0), (1, 0), (2, 1), None, None, (5, 4), (6, 4)]
    tracker, curve = Tracker(), MotionCurve()
    for t, shift in enumerate(shifts):
        curve.add(tracker.update(_motion_frame(shift)), frame=t)
    motion = curve.curve()
    assert motion.catheter_id == 0
    assert motion.quality.tolist() == ["measured"] * 3 + ["interpolated"] * 2 + ["measured"] * 2
    expected = [[0, 0], [1, 0], [2, 1], [3, 2], [4, 3], [5, 4], [6, 4]]
    assert np.allclose(motion.displacement, expected, atol=1e-6)
    assert np.allclose(motion.position[0], _cs(20, 40).mean(axis=0))
    assert motion.electrodes.tolist() == [10, 10, 10, 0, 0, 10, 10]
    assert motion.coverage() == 1.0
    rows = motion.rows()
    assert rows[3]["quality"] == "interpolated" and rows[3]["dx"] == 3.0 and rows[3]["catheter_id"] == 0


def test_motion_curve_holds_ends_within_max_gap_and_smooths():
    shifts = [None, (0, 0), (2, 0), (4, 0), None, None, None]
    tracker, curve = Tracker(), MotionCurve(max_gap=2, smoothing=3)
    for t, shift in enumerate(shifts):
        curve.add(tracker.update(_motion_frame(shift)), frame=t)
    motion = curve.curve()
    assert motion.quality.tolist() == ["held", "measured", "measured", "measured", "held", "held", "missing"]
    # centred 3-frame mean over the values that exist, ends included
    assert np.allclose(motion.displacement[:6, 0], [0, 2 / 3, 2, 10 / 3, 4, 4])
    assert np.isnan(motion.displacement[6]).all() and motion.rows()[6]["dx"] == ""


def test_motion_curve_without_cs_is_all_missing():
    curve = MotionCurve()
    tracker = Tracker()
    for _ in range(3):
        curve.add(tracker.update(_motion_frame(None)))
    motion = curve.curve()
    assert motion.catheter_id is None and motion.coverage() == 0.0
    assert motion.quality.tolist() == ["missing"] * 3
