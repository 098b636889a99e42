"""The tracker's pure geometry by hand: chamfer, template alignment, slot keys, row continuation,
centreline shift (cases written from the survivors of a mutation run)."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.tracking import (UNPLACED, _slot_keys, align_to_template, centreline_distance, chamfer,
                                        centreline_shift, row_continues)

U = UNPLACED


def test_chamfer_by_hand():
    points = np.array([[0.0, 0.0], [10.0, 0.0]])
    reference = np.array([[3.0, 0.0], [10.0, 4.0]])
    assert chamfer(points, reference) == pytest.approx((3.0 + 4.0) / 2)  # x and y distances both count
    assert chamfer(points, reference, np.max) == pytest.approx(4.0)
    assert chamfer(points[:0], reference) == float("inf") and chamfer(points, reference[:0]) == float("inf")
    assert chamfer(points[:1], reference[:1]) == pytest.approx(3.0)  # one point each is enough


def test_align_without_points_or_slots():
    ranks, cost = align_to_template(np.zeros((0, 2)), np.zeros((3, 2)), 8.0)
    assert ranks.dtype == np.int64 and ranks.shape == (0,) and cost == 0.0
    ranks, cost = align_to_template(np.ones((2, 2)), np.zeros((0, 2)), 8.0)
    assert ranks.dtype == np.int64 and ranks.tolist() == [U, U] and cost == 8.0 and isinstance(cost, float)


def test_align_finds_the_motion_left_by_the_prediction():
    template = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    # the row moved 5 px down: beyond the gate (4 px) without the shift; with it, exact
    ranks, cost = align_to_template(np.array([[10.0, 5.0], [20.0, 5.0]]), template, 8.0)
    assert ranks.tolist() == [1, 2] and cost == pytest.approx(0.3 * 5.0)
    # one point near the second slot: the small shift wins over none
    ranks, cost = align_to_template(np.array([[10.5, 0.0]]), template[:2], 8.0)
    assert ranks.tolist() == [1] and cost == pytest.approx(0.3 * 0.5)
    # a single slot
    ranks, _ = align_to_template(np.array([[1.0, 1.0], [30.0, 30.0]]), template[:1], 8.0)
    assert ranks.tolist() == [0, U]


def test_align_leaves_out_a_point_that_fits_no_slot_and_prices_it_at_the_gate():
    template = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    points = np.array([[0.0, 0.0], [15.0, 0.0], [20.0, 0.0]])  # the middle one lies between two slots
    ranks, cost = align_to_template(points, template, 8.0)
    assert ranks.tolist() == [0, U, 2]
    assert cost == pytest.approx((0.0 + 4.0 + 0.0) / 3)  # unplaced: the gate, half of miss_cost


def test_align_reads_a_row_seen_reversed():
    template = np.array([[0.0, 0.0], [3.0, 0.0], [10.0, 0.0], [13.0, 0.0]])  # paired rings
    ranks, _ = align_to_template(template[::-1] + [0.5, 0.0], template, 8.0)
    assert ranks.tolist() == [3, 2, 1, 0]


@pytest.mark.parametrize(("ranks", "keys", "expected"), [
    ([U, 0, 1, 2, U], [0.0, 1.0, 2.0], [-1.0, 0.0, 1.0, 2.0, 3.0]),  # extended past both ends
    ([U, 2, 1, 0, U], [0.0, 1.0, 2.0], [3.0, 2.0, 1.0, 0.0, -1.0]),  # the row seen reversed
    ([U, U, 0, 1], [0.0, 1.0], [-2.0, -1.0, 0.0, 1.0]),
    ([0, U, 1, 2], [0.0, 1.0, 2.0], [0.0, 0.5, 1.0, 2.0]),  # a ring seen for the first time
    ([0, 1, U, 2], [0.0, 1.0, 2.0], [0.0, 1.0, 1.5, 2.0]),
    ([0, U, 2], [0.0, 1.0, 2.0], [0.0, None, 2.0]),  # between slots that are not neighbours
    ([U, 1], [0.0, 1.0], [None, 1.0]),  # before a slot that is not the tip: unknown
    ([1, U], [0.0, 1.0], [1.0, 2.0]),
    ([0, U], [0.0, 1.0], [0.0, None]),
    ([U, 0, U], [0.0], [-1.0, 0.0, 1.0]),  # one slot: both ends
    ([U, U], [0.0, 1.0], [None, None]),
    ([U, 1, 0], [-1.0, 2.5], [3.5, 2.5, -1.0]),  # keys need not be whole numbers
])
def test_slot_keys_by_hand(ranks, keys, expected):
    assert _slot_keys(np.array(ranks, np.int64), keys) == expected


def test_rows_continuing_end_to_end():
    a = np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]])
    assert row_continues(a, np.array([[15.0, 0.0], [20.0, 0.0]])) == (1, 0)
    assert row_continues(a, np.array([[20.0, 0.0], [15.0, 0.0]])) == (1, 1)
    assert row_continues(np.array([[20.0, 0.0], [15.0, 0.0]]), a) == (1, 1)
    assert row_continues(a[::-1], np.array([[-5.0, 0.0], [-10.0, 0.0]])) == (1, 0)
    # three electrodes in all are enough, one of them alone
    assert row_continues(np.array([[15.0, 0.0]]), a[1:]) == (0, 1)
    assert row_continues(np.array([[15.0, 0.0]]), np.array([[10.0, 0.0]])) is None
    assert row_continues(a, np.zeros((0, 2))) is None and row_continues(np.zeros((0, 2)), a) is None


def test_row_continuation_limits_are_inclusive():
    a = np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]])
    # joint gap exactly ratio x spacing (7.5 = 1.5 x 5): still one row; beyond: not
    assert row_continues(a, np.array([[17.5, 0.0], [22.5, 0.0]])) == (1, 0)
    assert row_continues(a, np.array([[17.6, 0.0], [22.6, 0.0]])) is None
    # spacings 5 and 7.5: ratio exactly 1.5 is allowed; 7.6 is not
    assert row_continues(a, np.array([[17.5, 0.0], [25.0, 0.0]])) == (1, 0)
    assert row_continues(a, np.array([[17.0, 0.0], [24.6, 0.0]])) is None


def test_rows_side_by_side_crossing_or_turning_do_not_continue():
    a = np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]])
    assert row_continues(a, a + [0.0, 5.0]) is None  # parallel, 5 px apart
    assert row_continues(a, np.array([[8.0, 0.5], [13.0, 0.5]])) is None  # overlapping
    assert row_continues(a, np.array([[14.0, 4.0], [17.0, 8.0]])) == (1, 0)  # turns 45 degrees
    assert row_continues(a, np.array([[10.0, 5.0], [10.0, 10.0]])) is None  # turns 90 degrees at the joint
    assert row_continues(a, np.array([[10.0, 5.0], [10.0, 10.0]]), max_turn=95.0) == (1, 0)  # allowed turn
    assert row_continues(a, np.array([[13.0, 4.0], [13.0, 9.0]])) == (1, 0)  # 53 then 37 degrees
    assert row_continues(a, np.array([[13.0, 4.0], [8.0, 9.0]])) is None  # the far row turns back


def test_centreline_shift_by_hand():
    before = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    assert centreline_shift(before, before + [2.0, 1.0]).tolist() == [2.0, 1.0]
    assert centreline_shift(before, (before + [2.0, 1.0])[::-1]).tolist() == [2.0, 1.0]  # flipped
    assert centreline_shift(before, np.zeros((0, 2))).tolist() == [0.0, 0.0]
    assert centreline_shift(np.zeros((0, 2)), before).tolist() == [0.0, 0.0]
    assert centreline_distance(before, (before + [3.0, 4.0])[::-1]) == pytest.approx(5.0)
    assert centreline_distance(before, np.zeros((0, 2))) == float("inf")


def _track(track_id, slots, largest, row_length, scores, votes):
    from cathx.postprocess.tracking import TypeVote, _Track

    vote = TypeVote()
    vote.scores, vote.votes = dict(scores), votes
    return _Track(track_id, vote, np.zeros((4, 2)), slots={k: np.array(v, float) for k, v in slots.items()},
                  slot_ids={k: 100 * track_id + int(k) for k in slots}, largest=largest,
                  row=np.zeros((row_length, 2)))


@pytest.mark.parametrize(("ends", "expected", "ids"), [
    ((1, 0), {2.0: [30, 0], 3.0: [40, 0]}, {2.0: 200, 3.0: 201}),  # keep's last slot meets other's first
    ((1, 1), {2.0: [40, 0], 3.0: [30, 0]}, {2.0: 201, 3.0: 200}),  # ... other's last: it runs reversed
    ((0, 0), {-1.0: [30, 0], -2.0: [40, 0]}, {-1.0: 200, -2.0: 201}),  # keep's first meets other's first
    ((0, 1), {-1.0: [40, 0], -2.0: [30, 0]}, {-1.0: 201, -2.0: 200}),
])
def test_absorb_renumbers_the_other_row_beyond_the_joint(ends, expected, ids):
    from cathx.postprocess.tracking import Tracker

    keep = _track(1, {0.0: [0, 0], 1.0: [10, 0]}, 2, 2, {"quadripolar": 2.0}, 3.0)
    other = _track(2, {0.0: [30, 0], 1.0: [40, 0]}, 2, 2, {"quadripolar": 1.0, "pacing": 1.0}, 2.0)
    Tracker()._absorb(keep, other, ends)
    moved = {k: v.tolist() for k, v in keep.slots.items() if k not in (0.0, 1.0)}
    assert moved == expected
    assert {k: keep.slot_ids[k] for k in expected} == ids  # electrode ids travel with their slots
    # the joined row has 4 rings; each side's votes shrink to its share (2 of 4)
    assert keep.largest == 4
    assert keep.vote.scores == pytest.approx({"quadripolar": 2.0 * 2 / 4 + 1.0 * 2 / 4, "pacing": 1.0 * 2 / 4})
    assert keep.vote.votes == 5.0


def test_absorb_keeps_the_larger_count_seen_before():
    from cathx.postprocess.tracking import Tracker

    keep = _track(1, {0.0: [0, 0], 1.0: [10, 0]}, 6, 1, {"lasso": 6.0}, 6.0)
    other = _track(2, {0.0: [30, 0]}, 1, 1, {"pacing": 1.0}, 1.0)
    other.slot_ids = {}  # a slot without an id yet
    Tracker()._absorb(keep, other, (1, 0))
    assert keep.largest == 6 and keep.vote.scores == pytest.approx({"lasso": 6.0, "pacing": 1 / 6})
    assert 2.0 in keep.slots and 2.0 not in keep.slot_ids


def _merged_frame(type_probabilities=None):
    from cathx.postprocess.results import Catheter, Results

    line = np.stack([np.arange(0, 61), np.full(61, 10)], 1).astype(np.float32)
    electrodes = np.array([[2, 10], [7, 10], [12, 10], [17, 10], [45, 10], [50, 10]], np.float32)
    return Results(image_size=(32, 64), electrodes=electrodes, scores=np.ones(6, np.float32),
                   sizes=np.full((6, 2), 2.0, np.float32), electrode_catheter=np.zeros(6, np.int64),
                   electrode_index=np.arange(6), electrode_ids=np.full(6, -1),
                   catheters=[Catheter(7, "cs_decapolar", line, closed=True)], type_probabilities=type_probabilities)


def test_split_catheter_gives_each_group_its_piece_and_type():
    from cathx.postprocess.tracking import _split_catheter

    results = _merged_frame()
    members = np.arange(6)
    _split_catheter(results, 0, members, [members[4:], members[:4]])  # the larger group keeps index 0
    assert len(results.catheters) == 2
    kept, added = results.catheters
    assert (kept.id, kept.type, kept.closed) == (7, "quadripolar", False)
    assert (added.id, added.type) == (-1, "pacing") and added.centreline.dtype == np.float32
    assert kept.centreline[:, 0].max() <= 31 and added.centreline[:, 0].min() >= 31  # split halfway
    assert results.electrode_catheter.tolist() == [0, 0, 0, 0, 1, 1]
    assert results.electrode_index.tolist() == [0, 1, 2, 3, 0, 1]


def test_split_catheter_reads_the_head_when_there_is_one_and_electrodes_without_a_line():
    from cathx.postprocess.tracking import _split_catheter

    head = np.zeros((5, 4, 4), np.float32)
    head[3] = 1.0  # lasso everywhere
    results = _merged_frame(head)
    members = np.arange(6)
    _split_catheter(results, 0, members, [members[:4], members[4:]])
    assert [c.type for c in results.catheters] == ["lasso", "lasso"]
    bare = _merged_frame()
    bare.catheters[0].centreline = np.zeros((0, 2), np.float32)
    _split_catheter(bare, 0, members, [members[:4], members[4:]])
    # no centreline: each piece is its electrodes' polyline
    assert bare.catheters[1].centreline.tolist() == [[45.0, 10.0], [50.0, 10.0]]


def test_split_catheter_asks_the_learned_decision_with_each_pieces_features():
    from cathx.postprocess.catheter_type import pattern_features
    from cathx.postprocess.tracking import _split_catheter
    from cathx.postprocess.type_classifier import FEATURE_NAMES, catheter_features

    class Decision:  # records what it is asked; the larger piece "ablation", the other "pacing"
        def __init__(self):
            self.tables = []

        def decide(self, table):
            self.tables.append(table)
            return [("ablation" if len(self.tables) == 1 else "pacing", 0.9)]

    head = np.zeros((5, 4, 4), np.float32)
    head[3] = 1.0  # the head alone would say lasso
    results, decision = _merged_frame(head), Decision()
    members = np.arange(6)
    _split_catheter(results, 0, members, [members[:4], members[4:]], decision)
    assert [c.type for c in results.catheters] == ["ablation", "pacing"]
    assert [table.shape for table in decision.tables] == [(1, len(FEATURE_NAMES))] * 2
    piece = results.catheters[0].centreline.astype(np.float64)
    arc = np.array([2.0, 7.0, 12.0, 17.0])  # the first four electrodes along the straight piece
    expected = catheter_features(pattern_features(arc, results.sizes[:4], False, results.electrodes[:4]),
                                 float(np.hypot(*np.diff(piece, axis=0).T).sum()),
                                 np.array([0, 0, 0, 1, 0], np.float32))
    np.testing.assert_allclose(decision.tables[0][0], expected, rtol=1e-5)



def test_median_offset_by_hand():
    from cathx.postprocess.tracking import _median_offset

    points = [np.array([3.0, 1.0]), np.array([5.0, 0.0]), np.array([10.0, 4.0])]
    reference = [np.array([1.0, 0.0]), np.array([2.0, 0.0]), np.array([2.0, 0.0])]
    assert _median_offset(points, reference).tolist() == [3.0, 1.0]  # offsets x 2, 3, 8; y 1, 0, 4
    assert _median_offset(points[:2], reference[:2]).tolist() == [2.5, 0.5]  # even count: the mean of the two
