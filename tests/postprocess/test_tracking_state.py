"""The Tracker's state after each update, by hand: misses, velocity, slots, ids, votes, splits."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.results import Catheter, Results
from cathx.postprocess.tracking import Tracker
from track_scenes import quad_electrodes, results_of


def _track(tracker: Tracker, track_id: int):
    return next(t for t in tracker._tracks if t.id == track_id)


def test_a_moving_catheter_updates_velocity_slots_and_ids_by_hand():
    tracker = Tracker()  # velocity_gain 0.5
    first = tracker.update(results_of([("quadripolar", quad_electrodes(40, 20))]))
    assert first.electrode_ids.tolist() == [0, 1, 2, 3] and first.electrode_ids.dtype == np.int64
    assert first.electrode_index.tolist() == [0, 1, 2, 3]
    track = _track(tracker, 0)
    assert track.velocity.tolist() == [0.0, 0.0] and track.missed == 0 and track.largest == 4
    second = tracker.update(results_of([("quadripolar", quad_electrodes(42, 20))]))  # moved 2 px right
    assert second.electrode_ids.tolist() == [0, 1, 2, 3]  # the same rings, no new ids
    assert track.velocity.tolist() == [1.0, 0.0]  # half the residual motion
    assert np.allclose(track.row, quad_electrodes(42, 20)) and track.row.dtype == np.float64
    assert np.allclose(track.template()[0], quad_electrodes(42, 20))
    tracker.update(results_of([("quadripolar", quad_electrodes(44, 20))]))
    # predicted 43 (velocity 1), seen 44: residual 1, velocity 1.5
    assert track.velocity.tolist() == [1.5, 0.0]
    assert tracker._next_electrode == 4


def test_missed_frames_damp_the_velocity_and_drop_the_track_after_max_missed():
    tracker = Tracker(max_missed=2, velocity_damping=0.5)
    tracker.update(results_of([("quadripolar", quad_electrodes(40, 20))]))
    tracker.update(results_of([("quadripolar", quad_electrodes(44, 20))]))  # velocity 2
    track = _track(tracker, 0)
    assert track.velocity.tolist() == [2.0, 0.0]
    empty = results_of([])
    tracker.update(empty)
    assert track.missed == 1 and track.velocity.tolist() == [1.0, 0.0] and len(track.row) == 0
    assert np.allclose(track.template()[0], quad_electrodes(46, 20))  # predicted on with the old velocity
    tracker.update(results_of([]))
    assert track.missed == 2 and track.velocity.tolist() == [0.5, 0.0] and tracker._tracks == [track]
    tracker.update(results_of([]))  # a third miss: more than max_missed
    assert tracker._tracks == []


def test_a_shaft_without_electrodes_moves_by_its_centreline():
    tracker = Tracker()

    def shaft(x):
        line = np.stack([np.full(30, float(x)), np.arange(30.0)], 1).astype(np.float32)
        return Results((64, 64), catheters=[Catheter(0, "unknown", line)])

    tracker.update(shaft(10))
    tracker.update(shaft(12))
    track = _track(tracker, 0)
    assert track.velocity.tolist() == pytest.approx([1.0, 0.0]) and track.slots == {}


def test_votes_weigh_the_share_of_rings_seen_and_learned_confidence():
    tracker = Tracker(decay=0.9, margin=1.0, switch_frames=3)  # hand figures below (not the defaults)
    tracker.update(results_of([("quadripolar", quad_electrodes(40, 20))]))
    track = _track(tracker, 0)
    assert track.vote.scores == {"quadripolar": 1.0}
    tracker.update(results_of([("quadripolar", quad_electrodes(40, 20)[:2])]))  # 2 of the 4 rings
    assert track.vote.scores == pytest.approx({"quadripolar": 0.9 + 0.5})
    learned = results_of([("lasso", quad_electrodes(40, 20))])
    learned.catheters[0].confidence = 0.6
    out = tracker.update(learned)
    assert track.vote.scores == pytest.approx({"quadripolar": 1.4 * 0.9, "lasso": 0.6})
    assert out.catheters[0].confidence == round(track.vote.confidence, 4)
    # the track stays quadripolar (hysteresis); its confidence is that type's share of the votes
    assert out.catheters[0].type == "quadripolar"
    assert out.catheters[0].confidence == pytest.approx(round(1.26 / (1.26 + 0.6), 4))


def test_the_surest_learned_piece_votes():
    tracker = Tracker(decay=0.9)  # 1.0 x 0.9 below
    rows = quad_electrodes(40, 20)
    frame = results_of([("lasso", rows[:2]), ("pacing", rows[2:])])
    frame.catheters[0].confidence, frame.catheters[1].confidence = 0.3, 0.8
    tracker.update(results_of([("quadripolar", rows)]))
    tracker.update(frame)  # both pieces hold the track's rings: one track, the surer piece votes
    track = _track(tracker, 0)
    assert track.vote.scores == pytest.approx({"quadripolar": 0.9, "pacing": 0.8})


def test_a_detection_with_two_tracks_rings_is_split_at_min_claim():
    tracker = Tracker(min_claim=2)
    a, b = quad_electrodes(40, 20)[:2], quad_electrodes(60, 20)[:2]
    tracker.update(results_of([("pacing", a), ("pacing", b)]))
    merged = results_of([("cs_decapolar", np.vstack([a, b]))])  # 2 + 2 rings: exactly min_claim each
    out = tracker.update(merged)
    assert len(out.catheters) == 2 and sorted(c.id for c in out.catheters) == [0, 1]
    assert out.electrode_catheter_ids().tolist() == [0, 0, 1, 1]
    strict = Tracker(min_claim=3)
    strict.update(results_of([("pacing", a), ("pacing", b)]))
    assert len(strict.update(results_of([("cs_decapolar", np.vstack([a, b]))])).catheters) == 1


def test_by_default_one_ring_of_another_track_splits_a_detection():
    # A catheter lying against another often shows only one of its rings inside the other's
    # detection; at min_claim 2 that ring went with the detection and the catheter lost its id.
    tracker = Tracker()
    a, b = quad_electrodes(40, 20), quad_electrodes(60, 20)
    tracker.update(results_of([("quadripolar", a), ("quadripolar", b)]))
    merged = results_of([("quadripolar", np.vstack([b, a[:1]]))])  # all of b's rings, one of a's
    out = tracker.update(merged)
    assert sorted(c.id for c in out.catheters) == [0, 1]
    assert out.electrode_catheter_ids().tolist() == [1, 1, 1, 1, 0]
    at_two = Tracker(min_claim=2)
    at_two.update(results_of([("quadripolar", a), ("quadripolar", b)]))
    assert [c.id for c in at_two.update(results_of([("quadripolar", np.vstack([b, a[:1]]))])).catheters] == [1]


def test_a_single_matched_ring_moves_only_itself():
    tracker = Tracker()  # min_shift_support 2
    tracker.update(results_of([("quadripolar", quad_electrodes(40, 20))]))
    track = _track(tracker, 0)
    tracker.update(results_of([("quadripolar", quad_electrodes(42, 20)[:1])]))  # one ring, 2 px off
    assert track.velocity.tolist() == [0.0, 0.0]
    assert np.allclose(track.template()[0], np.vstack([quad_electrodes(42, 20)[:1], quad_electrodes(40, 20)[1:]]))
    # Two rings: offsets 2 (the ring seen before) and 4 (the one left behind), median 3; all move.
    tracker.update(results_of([("quadripolar", quad_electrodes(44, 20)[:2])]))
    assert track.velocity.tolist() == [1.5, 0.0]
    assert np.allclose(track.template()[0][2:], quad_electrodes(43, 20)[2:])
    loose = Tracker(min_shift_support=1)
    loose.update(results_of([("quadripolar", quad_electrodes(40, 20))]))
    loose.update(results_of([("quadripolar", quad_electrodes(42, 20)[:1])]))
    assert _track(loose, 0).velocity.tolist() == [1.0, 0.0]


def test_a_lost_track_does_not_take_a_piece_its_template_cannot_place():
    # A catheter of six rings and, 14 px off its first two, a two-ring neighbour that is then lost
    # for five frames (its electrode gate widens to 18 px). The catheter then shows in two pieces:
    # its first two rings alone sit within the lost track's gate, yet that track's template places
    # neither; the piece is the catheter's (its rings on the catheter's slots), not the neighbour's.
    row = np.stack([np.arange(20.0, 51.0, 6.0), np.full(6, 30.0)], 1)
    neighbour = np.array([[24.0, 44.0], [30.0, 44.0]])
    for verify, expected_same in ((True, True), (False, False)):
        # duplicates off: here the dropped duplicate would hand the piece back as well, which in
        # the replayed case it did not (the lost track's slots moved elsewhere)
        tracker = Tracker(verify_alignment=verify, duplicate_frames=0)
        first = tracker.update(results_of([("cs_decapolar", row), ("pacing", neighbour)]))
        catheter_id, neighbour_id = first.catheters[0].id, first.catheters[1].id
        for _ in range(5):
            tracker.update(results_of([("cs_decapolar", row)]))
        pieces = tracker.update(results_of([("cs_decapolar", row[2:]), ("pacing", row[:2])]))
        assert pieces.catheters[0].id == catheter_id
        assert (pieces.catheters[1].id == catheter_id) is expected_same, verify
        assert (pieces.catheters[1].id == neighbour_id) is not expected_same, verify
