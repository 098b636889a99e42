"""Tracker on hand-made track scenarios (Results built directly, no masks)."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.results import Catheter
from cathx.postprocess.compiled import electrode_match_cost
from cathx.postprocess.tracking import (Tracker, TypeVote, align_to_template, row_continues,
                                       row_type)
from track_scenes import CS_GAPS, cs_electrodes, id_of, quad_electrodes, results_of

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


def test_the_tracker_vote_corrects_a_wrong_start_within_four_confident_frames():
    """The Tracker's hysteresis (decay 0.8, margin 0.5, two frames): five frames typed lasso at 0.6,
    then ablation at 0.9. By hand: lasso 0.6 x (1 + 0.8 + ... + 0.8^4) = 2.017, then ablation
    leads by 0.33 (< margin) at its 2nd frame, by 1.16 and 1.83 at its 3rd and 4th: switched at
    the 4th. (The former 0.9 / 1.0 / 3 switched at the 6th; replayed on 40 development sequences
    the track type was right 80.1 % against 78.4 %, docs/inference.md.)"""
    vote = TypeVote(Tracker.decay, Tracker.margin, Tracker.switch_frames)
    for _ in range(5):
        assert vote.add("lasso", 0.6) == "lasso"
    assert [vote.add("ablation", 0.9) for _ in range(4)] == ["lasso"] * 3 + ["ablation"]


def test_type_flicker_suppressed_over_track():
    tracker = Tracker()
    seen = []
    for t in range(12):
        kind = "quadripolar" if t in (3, 7, 8) else "cs_decapolar"  # the frame's own classification
        results = tracker.update(results_of([(kind, cs_electrodes(20 + t, 40))]))
        seen.append((results.catheters[0].id, results.catheters[0].type))
        assert 0.0 < results.catheters[0].confidence <= 1.0
    assert seen == [(0, "cs_decapolar")] * 12
    assert results.catheters[0].confidence > 0.7


def test_missed_for_three_frames_keeps_id():
    tracker = Tracker()
    ids = []
    for t in range(10):
        catheters = [("quadripolar", quad_electrodes(90, 20 + t))]
        if not 4 <= t <= 6:  # the CS catheter, moving 2 px a frame, is missed in frames 4-6
            catheters.insert(0, ("cs_decapolar", cs_electrodes(10 + 2 * t, 60)))
        results = tracker.update(results_of(catheters))
        ids.append({c.type: c.id for c in results.catheters})
    assert [i["cs_decapolar"] for i in ids if "cs_decapolar" in i] == [0] * 7
    assert [i["quadripolar"] for i in ids] == [1] * 10


def test_a_track_started_after_the_first_frame_shows_its_id_once_seen_three_frames_in_a_row():
    """Frame 0's catheter shows its id at once. A quadripolar entering at frame 1 is found (typed,
    with electrodes) but shows -1 until its third frame in a row; a stray one-frame detection at
    frame 2 never shows an id nor uses one up, so the newcomer's id is the next number, 1."""
    tracker = Tracker()
    shown = []
    for t in range(6):
        catheters = [("cs_decapolar", cs_electrodes(10 + t, 60))]
        if t >= 1:
            catheters.append(("quadripolar", quad_electrodes(90, 20 + t)))
        if t == 2:
            catheters.append(("quadripolar", quad_electrodes(40, 100)))
        results = tracker.update(results_of(catheters))
        shown.append([c.id for c in results.catheters])
        assert results.catheters[-1].type == "quadripolar" or t == 0
    assert shown == [[0], [0, -1], [0, -1, -1], [0, 1], [0, 1], [0, 1]]
    # with confirm_frames=1 every new track shows its id in its first frame (ids 1, then 2)
    tracker = Tracker(confirm_frames=1)
    first = [[c.id for c in tracker.update(results_of(
        [("cs_decapolar", cs_electrodes(10 + t, 60))] + [("quadripolar", quad_electrodes(90, 20 + t))] * (t >= 1)
        + [("quadripolar", quad_electrodes(40, 100))] * (t == 2))).catheters] for t in range(4)]
    assert first == [[0], [0, 1], [0, 1, 2], [0, 1]]


def test_a_missed_frame_restarts_the_confirmation():
    tracker = Tracker()
    shown = []
    for t in range(7):
        catheters = [("cs_decapolar", cs_electrodes(10, 60))]
        if t in (1, 2, 4, 5, 6):  # seen twice, missed once, then three times in a row
            catheters.append(("quadripolar", quad_electrodes(90, 20)))
        shown.append([c.id for c in tracker.update(results_of(catheters)).catheters])
    assert shown == [[0], [0, -1], [0, -1], [0], [0, -1], [0, -1], [0, 1]]


def test_crossing_catheters_keep_ids_through_a_merged_frame():
    """A CS catheter moving right crosses a quadripolar moving left; in the middle frame the mask
    merges them and one detection carries all 14 electrodes."""
    tracker = Tracker()
    for t in range(9):
        cs, quad = cs_electrodes(5 + 3 * t, 50), quad_electrodes(70 - 3 * t, 41)
        if t == 4:
            merged = np.vstack([cs, quad])
            results = tracker.update(results_of([("lasso", merged)]))
        else:
            results = tracker.update(results_of([("cs_decapolar", cs), ("quadripolar", quad)]))
        assert id_of(results, cs[0]) == 0, t
        assert id_of(results, quad[0]) == 1, t
        by_id = {c.id: c.type for c in results.catheters}
        assert by_id == {0: "cs_decapolar", 1: "quadripolar"}, t


def test_electrode_index_fixed_from_tip_when_shuffled_flipped_or_tip_missed():
    tracker = Tracker()
    first = tracker.update(results_of([("cs_decapolar", cs_electrodes(10, 30))]))
    x = np.round(first.electrodes[:, 0] - 10).astype(int)
    ids_by_x = dict(zip(x.tolist(), first.electrode_ids.tolist()))
    assert sorted(first.electrode_index.tolist()) == list(range(10))
    # Rows shuffled and the centreline oriented from the other end (indices reversed).
    flipped = results_of([("cs_decapolar", cs_electrodes(11, 30)[::-1])], shuffle=3)
    tracker.update(flipped)
    x = np.round(flipped.electrodes[:, 0] - 11).astype(int)
    assert dict(zip(x.tolist(), flipped.electrode_ids.tolist())) == ids_by_x
    from_tip = dict(zip(CS_GAPS.astype(int).tolist(), range(10)))
    assert dict(zip(x.tolist(), flipped.electrode_index.tolist())) == from_tip
    # The tip electrode missed: the others keep indices 1..9 and their ids.
    missing = results_of([("cs_decapolar", cs_electrodes(12, 30)[1:])], shuffle=4)
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
    template = cs_electrodes(10, 30)
    seen = np.delete(template, [3, 6], axis=0) + [1.0, 0.5]
    ranks, _ = align_to_template(seen, template, miss_cost=8.0)
    assert ranks.tolist() == [0, 1, 2, 4, 5, 7, 8, 9]


def test_ring_seen_first_later_gets_its_index_and_others_keep_ids():
    tracker = Tracker()
    first = tracker.update(results_of([("cs_decapolar", np.delete(cs_electrodes(10, 30), 3, axis=0))]))
    ids = dict(zip(np.round(first.electrodes[:, 0]).astype(int).tolist(), first.electrode_ids.tolist()))
    later = tracker.update(results_of([("cs_decapolar", cs_electrodes(11, 30))], shuffle=1))
    x = np.round(later.electrodes[:, 0] - 1).astype(int)
    assert dict(zip(x.tolist(), later.electrode_index.tolist())) == dict(
        zip((10 + CS_GAPS).astype(int).tolist(), range(10)))
    assert all(ids[k] == v for k, v in zip(x.tolist(), later.electrode_ids.tolist()) if k in ids)
    assert len(set(later.electrode_ids.tolist())) == 10


def test_row_continues_by_hand():
    a = np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]])  # spacing 5, last ring at x = 10
    assert row_continues(a, a + [17.0, 0.0]) == (1, 0)  # joint 7 px <= 1.5 x 5, straight on
    assert row_continues(a, a[::-1] + [17.0, 0.0]) == (1, 1)  # the other row listed tip-last
    assert row_continues(a + [17.0, 0.0], a) == (0, 1)
    assert row_continues(a, a + [19.0, 0.0]) is None  # joint 9 px > 7.5
    assert row_continues(a, 2 * a + [16.0, 0.0]) is None  # spacing 10 vs 5: another catheter
    # A row starting 7 px away at a right angle: touching, not continuing (turn of 90 > 60 degrees).
    assert row_continues(a, np.array([[10.0, 7.0], [10.0, 12.0], [10.0, 17.0]])) is None
    # Side by side (overlapping along x): the joint is not the rows' nearest approach.
    assert row_continues(a, a + [2.0, 4.0]) is None


def test_row_continues_joins_pieces_of_paired_rings():
    # Two pieces of a CS catheter: rings in pairs 2.5 px apart, pairs 9 px apart (pitch 11.5 px);
    # the pieces meet across a long gap of 9 px. The median gap of each piece is the short one
    # (1.5 x 2.5 < 9: never joined); the largest gap is the long one (9 <= 1.5 x 9).
    first = np.array([[0.0, 0.0], [2.5, 0.0], [11.5, 0.0], [14.0, 0.0]])
    second = first + [23.0, 0.0]
    assert row_continues(first, second) == (1, 0)
    assert row_continues(first, second + [5.0, 0.0]) is None  # 14 px: beyond 1.5 x 9


def _cost(found, owner, detections, slots, offsets, gate, expected, scale=None):
    """electrode_match_cost with the pair scale at the gate unless given."""
    return electrode_match_cost(found, owner, detections, slots, offsets, gate, expected,
                                gate if scale is None else scale)


def _slots_on_x(*xs: float) -> np.ndarray:
    return np.array([[x, 0.0] for x in xs])


def test_electrode_match_cost_by_hand():
    # One track with slots at x = 0, 10, 20, 30 (expecting 4 electrodes), gate 8. Detection 0
    # (rows 0-3): three electrodes on slots and a false one 20 px off the row; detection 1 (row 4):
    # one electrode on a slot.
    found = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [30.0, 20.0], [30.0, 0.0]])
    slots = _slots_on_x(0, 10, 20, 30)
    offsets = np.array([0, 4])
    cost = _cost(found, np.array([0, 0, 0, 0, 1]), 2, slots, offsets, np.array([8.0]),
                                np.array([4.0]))
    assert cost[0, 0] == pytest.approx(1 - 3 / 4) and cost[1, 0] == pytest.approx(1 - 1 / 4)
    # Under half of a detection's electrodes paired within the gate: inadmissible.
    far = _cost(np.array([[1.0, 0.0], [9.0, 0.0], [12.0, 0.0]]), np.zeros(3, np.int64), 1,
                               _slots_on_x(0), np.array([0, 1]), np.array([8.0]), np.array([3.0]))
    assert np.isinf(far[0, 0])
    half = _cost(np.array([[4.0, 0.0], [9.0, 0.0]]), np.zeros(2, np.int64), 1,
                                _slots_on_x(0), np.array([0, 1]), np.array([8.0]), np.array([1.0]))
    assert half[0, 0] == pytest.approx(1 - 0.5 / 2)


def test_electrode_match_cost_pairs_one_to_one():
    # Four electrodes at x = 0, 2, 4, 6 around a two-slot track (x = 1, 5): each slot explains one
    # electrode (1 px away: 7/8 each), not all four; the other two are unexplained, so the cost is
    # 1 - 1.75 / 4 and a track holding all four rings (cost 0) wins clearly.
    found = _slots_on_x(0, 2, 4, 6)
    two = _cost(found, np.zeros(4, np.int64), 1, _slots_on_x(1, 5), np.array([0, 2]),
                               np.array([8.0]), np.array([2.0]))
    assert two[0, 0] == pytest.approx(1 - 1.75 / 4)
    both = _cost(found, np.zeros(4, np.int64), 1, np.vstack([_slots_on_x(1, 5), found]),
                                np.array([0, 2, 6]), np.array([8.0, 8.0]), np.array([2.0, 4.0]))
    assert both[0, 1] == pytest.approx(0.0) and both[0, 0] == pytest.approx(two[0, 0])
    # Nearest pairs first: the electrode at 0 takes the slot at 1 (1 px), so the one at 2 px,
    # equally far from that slot, pairs with the slot at 5 (3 px) instead.
    nearest = _cost(_slots_on_x(0, 2), np.zeros(2, np.int64), 1, _slots_on_x(1, 5),
                                   np.array([0, 2]), np.array([8.0]), np.array([2.0]))
    assert nearest[0, 0] == pytest.approx(1 - (7 / 8 + 5 / 8) / 2)


def test_a_wider_gate_admits_pairs_without_making_them_cheaper():
    # Two electrodes 4 and 12 px from a two-slot track's slots. Gate 8: the far one is out, one of
    # two paired (admissible), cost 1 - 0.5 / 2. A track lost long enough for a 24-px gate pairs
    # both; scaled by that gate they would cost 1 - (20/24 + 12/24) / 2 = 0.333, cheaper than the
    # same rings next to a track seen last frame; scaled by the steady 8 px: 1 - (0.5 + 0) / 2.
    found = np.array([[4.0, 0.0], [22.0, 0.0]])
    slots, owner, offsets = _slots_on_x(0, 10), np.zeros(2, np.int64), np.array([0, 2])
    assert _cost(found, owner, 1, slots, offsets, np.array([8.0]), np.array([2.0]))[0, 0] == pytest.approx(0.75)
    grown = _cost(found, owner, 1, slots, offsets, np.array([24.0]), np.array([2.0]))
    assert grown[0, 0] == pytest.approx(1 - (20 / 24 + 12 / 24) / 2)
    steady = _cost(found, owner, 1, slots, offsets, np.array([24.0]), np.array([2.0]), scale=np.array([8.0]))
    assert steady[0, 0] == pytest.approx(0.75)


def test_row_type_of_joined_pieces():
    angle = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    loop = np.stack([50 + 8 * np.cos(angle), 50 + 8 * np.sin(angle)], 1)
    assert row_type(loop) == "lasso"  # ten rings on a loop: spread 16 / 45 px of arc
    assert row_type(cs_electrodes(10, 30)) == "cs_decapolar"


def test_catheter_seen_in_two_pieces_gets_one_id_and_the_joined_type():
    """A lasso whose mask is cut in two at a crossing from the first frame on: two detections of
    five rings each, each classified on its own as cs_decapolar. After ``join_frames`` frames the
    pieces share the id of one track and the track's type becomes the joined row's (lasso)."""
    angle = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    tracker = Tracker(join_frames=3)
    for t in range(12):
        loop = np.stack([60 + 10 * np.cos(angle) + t, 60 + 10 * np.sin(angle)], 1)
        results = tracker.update(results_of([("cs_decapolar", loop[:5]), ("cs_decapolar", loop[5:])]))
        ids = [c.id for c in results.catheters]
        if t >= 2:
            assert ids[0] == ids[1], t
    assert len(set(results.electrode_ids.tolist())) == 10
    assert [c.type for c in results.catheters] == ["lasso", "lasso"]
    # Indices run from the tip of the joined row: 0..9 once each.
    assert sorted(results.electrode_index.tolist()) == list(range(10))


def test_a_one_ring_piece_does_not_take_the_id_of_the_catheter():
    """The CS catheter's last ring is cut off into a separate detection; the piece holding the
    other nine keeps the id, the single ring joins it as a piece."""
    tracker = Tracker()
    first = tracker.update(results_of([("cs_decapolar", cs_electrodes(10, 40))]))
    cs_id = first.catheters[0].id
    cut = cs_electrodes(11, 40)
    later = tracker.update(results_of([("pacing", cut[9:]), ("cs_decapolar", cut[:9])]))
    assert [c.id for c in later.catheters] == [cs_id, cs_id]


def test_a_false_electrode_does_not_break_the_match():
    """Two false electrodes 15 px off the row (more than the gate) pull the mean distance over it;
    the soft count of matched rings still matches the catheter to its track."""
    tracker = Tracker()
    first = tracker.update(results_of([("quadripolar", quad_electrodes(40, 20))]))
    noisy = np.vstack([quad_electrodes(41, 21), [[56.0, 20.0], [56.0, 30.0]]])
    later = tracker.update(results_of([("ablation", noisy)]))
    assert later.catheters[0].id == first.catheters[0].id


def test_a_shaft_piece_without_electrodes_lying_on_the_track_takes_its_id():
    tracker = Tracker()
    first = tracker.update(results_of([("quadripolar", quad_electrodes(40, 20))]))
    shaft = Catheter(id=-1, type="unknown", centreline=np.array([[40.0, 40.0], [40.0, 46.0]], np.float32))
    later = results_of([("quadripolar", quad_electrodes(40, 20)[:2])])
    later.catheters.append(shaft)
    tracker.update(later)
    assert [c.id for c in later.catheters] == [first.catheters[0].id] * 2


def test_a_piece_with_a_false_electrode_still_joins_its_catheter():
    """The CS row is cut after its sixth ring; the cut-off piece carries three rings and a false
    electrode 20 px away. Most of its electrodes lie on the track's rings (median distance 1 px),
    so it is a piece of the CS catheter although the mean distance is over the claim distance."""
    tracker = Tracker()
    first = tracker.update(results_of([("cs_decapolar", cs_electrodes(10, 40))]))
    moved = cs_electrodes(11, 40)
    piece = np.vstack([moved[6:9], [[moved[8, 0], 60.0]]])
    later = tracker.update(results_of([("cs_decapolar", moved[:6]), ("ablation", piece)]))
    assert [c.id for c in later.catheters] == [first.catheters[0].id] * 2


def test_a_piece_with_rings_not_seen_before_lying_on_the_track_centreline_takes_its_id():
    """First frame: two rings of a quadripolar detected, its shaft seen over all four. Next frame
    the mask is cut between rings 1 and 2: the piece holding rings 2 and 3 (never seen, so on no
    slot) lies along the track's centreline and takes its id; without ``piece_on_line`` it would
    start a track of its own."""
    quad = quad_electrodes(40, 20)  # rings at y = 20, 26, 32, 38
    for on_line, same in ((True, True), (False, False)):
        tracker = Tracker(piece_on_line=on_line)
        first = results_of([("pacing", quad[:2])])
        first.catheters[0].centreline = np.array([[40.0, 18.0], [40.0, 60.0]], np.float32)
        tracker.update(first)
        later = tracker.update(results_of([("pacing", quad[:2] + [0.5, 0]), ("pacing", quad[2:] + [0.5, 0])]))
        assert (later.catheters[0].id == later.catheters[1].id) is same


def test_rings_of_a_piece_given_for_lying_on_the_centreline_do_not_vote_on_the_type():
    """A quadripolar tracked over three frames; then its mask is cut before its last ring, and
    the cut-off piece carries that ring and two false electrodes further along the shaft. The
    piece keeps the id (it lies on the centreline), but its six-ring row would read as a CS
    catheter: only the main piece votes, so the type stays quadripolar with full confidence."""
    tracker = Tracker()
    quad = quad_electrodes(40, 20)  # rings at y = 20, 26, 32, 38
    for _ in range(3):
        whole = results_of([("quadripolar", quad)])
        whole.catheters[0].centreline = np.array([[40.0, 18.0], [40.0, 70.0]], np.float32)
        tracker.update(whole)
    piece = np.vstack([quad[3:], [[40.0, 48.0], [40.0, 58.0]]])
    later = tracker.update(results_of([("quadripolar", quad[:3]), ("cs_decapolar", piece)]))
    assert later.catheters[0].id == later.catheters[1].id
    assert later.catheters[0].type == "quadripolar" and later.catheters[0].confidence == 1.0


@pytest.mark.parametrize("duplicate_frames, expected", [(1, True), (0, False)])
def test_a_piece_track_on_the_catheter_rings_gives_the_catheter_its_id(duplicate_frames, expected):
    """A track left on three of the CS catheter's rings (a piece of it once tracked on its own)
    holds slots the CS track holds too. When the catheter is seen cut there, the piece matches
    the small track best; that track duplicates the CS track, so it is dropped and the piece
    carries the CS catheter's id in the same frame. Without the drop (duplicate_frames 0) the
    catheter shows two ids."""
    row = cs_electrodes(40, 40)
    tracker = Tracker(duplicate_frames=duplicate_frames)
    first = tracker.update(results_of([("cs_decapolar", row), ("quadripolar", quad_electrodes(100, 100))]))
    cs_id, piece_id = (c.id for c in first.catheters)
    piece = next(t for t in tracker._tracks if t.id == piece_id)
    piece.slots = {float(i): p.copy() for i, p in enumerate(row[7:])}  # as if it had been the tail
    piece.centreline = np.linspace(row[7], row[9], len(piece.centreline))
    piece.largest = 3
    later = tracker.update(results_of([("cs_decapolar", row[:7]), ("pacing", row[7:])]))
    assert ([c.id for c in later.catheters] == [cs_id, cs_id]) is expected
    assert any(t.id == piece_id for t in tracker._tracks) is not expected


def test_drop_duplicates_by_hand():
    """A track whose slots lie within duplicate_distance (median) of a larger track's slots for
    duplicate_frames calls in a row is dropped; one 3 px beside it (a catheter lying alongside) is not."""
    from cathx.postprocess.tracking import _Track

    def track(track_id: int, points: np.ndarray) -> _Track:
        made = _Track(track_id, TypeVote(), points.copy())
        made.slots = {float(i): p for i, p in enumerate(points)}
        made.largest = len(points)
        return made

    row = cs_electrodes(40, 40)
    big, on_it, beside = track(0, row), track(1, row[6:] + 0.5), track(2, row[:4] + [0.0, 3.0])
    tracker = Tracker(duplicate_frames=2, duplicate_distance=2.0)
    tracker._tracks = [big, on_it, beside]
    assert tracker._drop_duplicates({}) == {}  # first frame of the streak
    assert tracker._drop_duplicates({}) == {id(on_it): big}
    assert [t.id for t in tracker._tracks] == [0, 2]
    assert tracker._drop_duplicates({}) == {}  # the one beside stays, however long
    # A streak is broken by a frame apart.
    tracker = Tracker(duplicate_frames=2)
    tracker._tracks = [big, on_it]
    tracker._drop_duplicates({})
    on_it.slots = {k: v + 20.0 for k, v in on_it.slots.items()}
    tracker._drop_duplicates({})
    on_it.slots = {k: v - 20.0 for k, v in on_it.slots.items()}
    assert tracker._drop_duplicates({}) == {}


def _enlarged(results, factor: int):
    """``results`` drawn ``factor`` times larger (pixel centres map as rescale_results maps them)."""
    from cathx.postprocess.results import rescale_results

    height, width = results.image_size
    return rescale_results(results, (height * factor, width * factor))


def _breathing_scene(t: int):
    """A CS catheter and a quadripolar one moving with breathing (a few px a frame, 128-px frame);
    the CS catheter is missed in frames 4-6."""
    dx, dy = 3 * np.sin(1.3 * t), 2 * np.cos(0.9 * t)
    catheters = [("quadripolar", quad_electrodes(90 + dy, 20 + dx))]
    if not 4 <= t <= 6:
        catheters.insert(0, ("cs_decapolar", cs_electrodes(20 + dx, 60 + dy)))
    return results_of(catheters)


def test_a_larger_frame_is_tracked_at_the_reference_scale():
    """The same scene drawn 4x larger (a 512-px frame of a 128-px scene): with reference_side the
    tracker gives the ids it gives at 128 px; without, its gates are a quarter as wide in the
    scene's terms and the CS catheter comes back from its miss on a new track."""
    def ids(tracker, factor):
        out = []
        for t in range(12):
            frame = _breathing_scene(t) if factor == 1 else _enlarged(_breathing_scene(t), factor)
            results = tracker.update(frame)
            out.append(([(c.type, c.id) for c in results.catheters], results.electrode_ids.tolist()))
        return out

    reference = ids(Tracker(), 1)
    assert {cid for frame, _ in reference for _, cid in frame} == {0, 1}
    assert ids(Tracker(reference_side=128), 4) == reference
    # (shown at once: the id the new track is given is the point, not its confirmation)
    assert {cid for frame, _ in ids(Tracker(confirm_frames=1), 4) for _, cid in frame} == {0, 1, 2}


def test_match_gates_pairs_out_before_the_assignment():
    """Track 0 is the catheter's own (0.2 to detection 0), track 1 a fragment's (0.9 to it);
    detection 1 is far from both (5 and 7, beyond the gate of 1). Assigned on the raw costs the
    swap (0.9 + 5 < 0.2 + 7) gave detection 0 to the fragment and then dropped the far pair."""
    from cathx.postprocess.tracking import match

    assert match(np.array([[0.2, 5.0], [0.9, 7.0]]), 1.0) == [(0, 0)]
    assert match(np.array([[0.2, np.inf], [np.inf, 0.4]]), 1.0) == [(0, 0), (1, 1)]
    assert match(np.zeros((0, 3)), 1.0) == []


@pytest.mark.parametrize("keep_older_id", [True, False])
def test_a_catheter_first_seen_with_one_ring_keeps_its_id_when_it_shows_four(keep_older_id):
    # Frame 0 shows one ring of a quadripolar; frame 1 all four. The one-slot track cannot explain
    # four rings (under half paired), so a second track starts, and the first, lying on its slots,
    # is dropped as its duplicate: the catheter keeps the id it was shown with, with its vote.
    tracker = Tracker(keep_older_id=keep_older_id)
    first = tracker.update(results_of([("quadripolar", quad_electrodes(50, 40)[:1])]))
    assert [c.id for c in first.catheters] == [0]
    whole = results_of([("quadripolar", quad_electrodes(50, 40))])
    # its shaft seen far beyond the rings: too far from the one-ring track's centreline to match it
    whole.catheters[0].centreline = np.array([[50.0, 40.0], [50.0, 120.0]], np.float32)
    second = tracker.update(whole)
    assert [c.id for c in second.catheters] == ([0] if keep_older_id else [-1])  # -1: a new track, not yet confirmed
    assert len(tracker._tracks) == 1
    if keep_older_id:
        assert tracker._tracks[0].vote.votes > 1  # the first frame's vote came with the id


def test_a_detection_that_never_holds_a_ring_gets_no_id_and_no_type():
    """A sternal-wire loop or an ECG lead the network segments shows as a catheter without rings: no
    id and type "unknown" however long it is seen (confirm_electrodes=1). The next test: rings found
    on such a track confirm it."""

    def frame():
        results = results_of([("cs_decapolar", cs_electrodes(10, 60))])
        wire = np.stack([np.full(40, 120.0), np.linspace(80, 120, 40)], 1).astype(np.float32)
        results.catheters.append(Catheter(1, "quadripolar", wire))
        return results

    tracker = Tracker()
    bare = [tracker.update(frame()).catheters[-1] for _ in range(5)]
    assert [(c.id, c.type, c.confidence) for c in bare] == [(-1, "unknown", 0.0)] * 5
    # the same tracker before this rule (confirm_electrodes=0) gave it an id from the first frame
    old = Tracker(confirm_electrodes=0)
    assert [old.update(frame()).catheters[-1].id for _ in range(2)] == [1, 1]


def test_a_track_confirmed_by_frames_waits_for_its_first_ring():
    tracker = Tracker()
    line = np.stack([np.full(40, 90.0), np.linspace(14, 60, 40)], 1).astype(np.float32)
    shown = []
    for t in range(6):
        results = results_of([("cs_decapolar", cs_electrodes(10, 60))]
                             + ([("quadripolar", quad_electrodes(90, 20))] if t >= 4 else []))
        if t < 4:  # its shaft alone, where its rings will show
            results.catheters.append(Catheter(1, "quadripolar", line))
        shown.append([(c.id, c.type) for c in tracker.update(results).catheters])
    assert shown[:4] == [[(0, "cs_decapolar"), (-1, "unknown")]] * 4
    assert shown[4][1][0] == 1 and shown[5][1] == shown[4][1]  # seen 5 frames in a row: shown with its rings
