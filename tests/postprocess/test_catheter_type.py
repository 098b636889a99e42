from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.catheter_type import (
    classify_catheter,
    classify_pattern,
    pattern_features,
    polyline_closes,
)
from cathx.postprocess.type_evaluation import classify_ground_truth, type_accuracy


def _arc(gaps):
    return np.concatenate([[0.0], np.cumsum(gaps)])


@pytest.mark.parametrize(
    ("arc", "sizes", "closed", "expected"),
    [
        (_arc([2, 6, 2, 6, 2, 6, 2, 6, 2]), None, False, "cs_decapolar"),
        (_arc([2, 6, 2, 6, 2, 6, 2]), None, False, "cs_decapolar"),  # two rings missed
        (_arc([5, 5, 5]), np.full((4, 2), 2.0), False, "quadripolar"),
        (_arc([2, 7, 4]), np.array([[4, 2], [2, 2], [2, 2], [2, 2]], float), False, "ablation"),
        (_arc([4, 4, 4]), np.array([[5, 2], [2, 2], [2, 2], [2, 2]], float), False, "ablation"),  # long tip
        (_arc([4] * 9), None, True, "lasso"),
        (_arc([3] * 19), None, False, "lasso"),
        (_arc([10]), None, False, "pacing"),
        (np.zeros(0), None, False, "unknown"),
    ],
)
def test_patterns(arc, sizes, closed, expected):
    assert classify_catheter(arc, sizes, closed) == expected


def test_features_values():
    features = pattern_features(_arc([2, 6, 2]), np.array([[4, 1], [2, 2], [2, 2], [2, 2]], float))
    assert features.count == 4
    assert features.mean_gap == pytest.approx(10 / 3)
    assert features.alternation == pytest.approx(np.log(3))
    assert features.tip_ratio == pytest.approx(2.0)


def test_polyline_closes_detects_loops_only():
    t = np.linspace(0, 2 * np.pi, 100)
    loop = np.stack([20 + 10 * np.cos(t), 20 + 10 * np.sin(t)], 1)
    shaft = np.stack([np.full(30, 30.0), np.linspace(60, 21, 30)], 1)
    assert polyline_closes(np.concatenate([shaft, loop]))
    assert not polyline_closes(np.stack([np.arange(100.0), np.zeros(100)], 1))


def test_spread_marks_electrodes_on_a_loop_as_lasso():
    t = np.linspace(0, 2 * np.pi * 0.9, 10)
    points = np.stack([10 * np.cos(t), 10 * np.sin(t)], 1)
    assert classify_catheter(10 * t, None, False, points) == "lasso"
    straight = np.stack([10 * t, np.zeros(10)], 1)
    assert classify_catheter(10 * t, None, False, straight) == "cs_decapolar"


def test_type_accuracy_counts():
    result = type_accuracy([("lasso", "lasso"), ("lasso", "pacing"), ("ablation", "ablation")])
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["per_type"]["lasso"] == {"count": 2, "accuracy": 0.5}
    assert result["confusion"]["lasso"] == {"lasso": 1, "pacing": 1}


def test_rule_on_synthetic_ground_truth():
    from cathx.data.synthetic import generate_frame

    pairs = [p for seed in range(6) for p in classify_ground_truth(generate_frame(70_000 + seed, size=128))]
    # 20 catheters of all five types, all classified right when measured; one miss is tolerated.
    result = type_accuracy(pairs)
    assert len(pairs) >= 15 and len(result["per_type"]) == 5
    assert result["accuracy"] >= 0.95


def _sizes(tip, count=4):
    """Boxes (count, 2): a tip electrode of larger side ``tip`` px, rings 2 x 2 px."""
    sizes = np.full((count, 2), 2.0)
    sizes[0, 0] = tip
    return sizes


@pytest.mark.parametrize(
    ("gaps", "tip", "expected"),
    [
        ([4, 4, 4], 2.0, "quadripolar"),  # tip ratio 1, gap CV 0
        ([4, 4, 4], 2.08, "quadripolar"),  # tip ratio 1.04: just below 1.05
        ([4, 4, 4], 2.14, "ablation"),  # tip ratio 1.07: the shortest synthetic ablation tips
        ([4, 4, 4], 2.4, "ablation"),  # tip ratio 1.2
        ([4, 4, 6], 2.0, "quadripolar"),  # gap CV 0.943 / 4.667 = 0.20 (foreshortened rings)
        ([3, 4, 7], 2.0, "ablation"),  # gap CV 1.700 / 4.667 = 0.36: uneven gaps, equal rings
        ([4, 4], 2.4, "ablation"),  # 3 electrodes (one missed) follow the same rule
        ([4, 4], 2.0, "quadripolar"),
    ],
)
def test_three_or_four_electrodes_boundaries(gaps, tip, expected):
    arc = _arc(gaps)
    assert classify_catheter(arc, _sizes(tip, len(arc))) == expected


def _on_circle(count, turn=0.9, radius=10.0):
    """``count`` electrodes evenly spread over ``turn`` of a circle: arc (N,), points (N, 2)."""
    angle = np.linspace(0, 2 * np.pi * turn, count)
    return radius * angle, np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)


@pytest.mark.parametrize("count", [5, 6, 7, 10, 11])
def test_many_electrodes_on_a_loop_are_lasso_on_a_line_cs(count):
    arc, points = _on_circle(count)
    # On the loop the largest distance is at most the diameter 20 over an arc of 56.5: spread <= 0.36.
    assert pattern_features(arc, None, False, points).spread < 0.36
    assert classify_catheter(arc, None, False, points) == "lasso"
    straight = np.stack([arc, np.zeros(count)], 1)  # spread 1
    assert classify_catheter(arc, None, False, straight) == "cs_decapolar"


def test_closed_centreline_alone_makes_a_lasso_from_seven_electrodes():
    # 5-6 electrodes on a closed centreline but laid out straight: a crossing, CS with rings missed.
    for count, expected in [(5, "cs_decapolar"), (6, "cs_decapolar"), (7, "lasso"), (10, "lasso")]:
        arc = _arc([4.0] * (count - 1))
        straight = np.stack([arc, np.zeros(count)], 1)
        assert classify_catheter(arc, None, True, straight) == expected, count
    # 12 or more is a 20-pole loop even when open and straight; 1-2 electrodes are a pacing lead.
    assert classify_catheter(_arc([4.0] * 11), None, False, None) == "lasso"
    assert classify_catheter(_arc([4.0] * 10), None, False, None) == "cs_decapolar"
    assert classify_catheter(_arc([4.0]), _sizes(6.0, 2), True, None) == "pacing"
    assert classify_catheter(np.zeros(1), None, False, None) == "pacing"


@pytest.mark.parametrize(("tail", "expected"), [
    (2.5, "quadripolar"),  # far-end ratio 2.5 / 2 = 1.25: a bent proximal ring reads this large
    (2.7, "ablation"),  # 1.35 > 1.3: a long tip electrode at the far end of a tail-first centreline
])
def test_a_long_electrode_at_the_far_end_is_an_ablation_tip(tail, expected):
    sizes = np.full((4, 2), 2.0)
    sizes[-1, 0] = tail
    features = pattern_features(_arc([4, 4, 4]), sizes)
    assert features.tip_ratio == pytest.approx(1.0) and features.tail_ratio == pytest.approx(tail / 2)
    assert classify_pattern(features) == expected


@pytest.mark.parametrize("count", [5, 8, 10])
def test_electrodes_spread_wider_than_their_arc_are_a_loop_seen_edge_on(count):
    # Arc positions 0, 1, ... (span count - 1) but the points lie 1.5 px apart on a line: the
    # largest distance 1.5 (count - 1) over the span count - 1 gives spread 1.5 > 1.05, which no
    # set of points along the centreline can reach: the centreline is not their path -> lasso.
    arc = np.arange(count, dtype=float)
    points = np.stack([1.5 * arc, np.zeros(count)], 1)
    features = pattern_features(arc, None, False, points)
    assert features.spread == pytest.approx(1.5)
    assert classify_pattern(features) == "lasso"
    on_line = np.stack([arc, np.zeros(count)], 1)  # spread exactly 1: a CS catheter
    assert classify_catheter(arc, None, False, on_line) == "cs_decapolar"


def test_pattern_features_by_hand_with_unsorted_input():
    from cathx.postprocess.catheter_type import PatternFeatures

    # arc given out of order; sizes and points follow the input order
    arc = np.array([8, 0, 2, 4], int)
    sizes = np.array([[2, 6], [3, 1], [2, 2], [2, 1]], int)  # extents in arc order: 3, 2, 2, 6
    features = pattern_features(arc, sizes, False, np.array([[8, 0], [0, 0], [2, 0], [4, 0]]))
    assert features == PatternFeatures(count=4, closed=False, gap_cv=pytest.approx(np.std([2, 2, 4]) / (8 / 3)),
                                       alternation=pytest.approx(np.log(2) / 2), tip_ratio=1.5,
                                       mean_gap=pytest.approx(8 / 3), spread=1.0, tail_ratio=3.0)
    # gaps of half a pixel or less are one ring seen twice: left out
    twice = pattern_features(np.array([0.0, 0.5, 4.5, 8.5]))
    assert twice.mean_gap == pytest.approx(4.0) and twice.gap_cv == 0.0 and twice.alternation == 0.0
    # exactly two gaps already give a spread of gaps and an alternation
    three = pattern_features(np.array([0.0, 2.0, 8.0]))
    assert three.gap_cv == pytest.approx(0.5) and three.alternation == pytest.approx(np.log(3))
    # one gap: no spread, its length is the mean
    two = pattern_features(np.array([0.0, 5.0]), np.array([[4.0, 1.0], [2.0, 2.0]]))
    assert (two.gap_cv, two.alternation, two.mean_gap) == (0.0, 0.0, 5.0)
    assert (two.tip_ratio, two.tail_ratio) == (2.0, 0.5)  # two electrodes already compare sizes
    one = pattern_features(np.array([3.0]), np.array([[9.0, 9.0]]))
    assert (one.tip_ratio, one.tail_ratio, one.mean_gap, one.spread) == (1.0, 1.0, 0.0, 1.0)


def test_pattern_features_without_electrodes_keeps_closed():
    from cathx.postprocess.catheter_type import PatternFeatures

    assert pattern_features(np.zeros(0), None, True) == PatternFeatures(
        count=0, closed=True, gap_cv=0.0, alternation=0.0, tip_ratio=1.0, mean_gap=0.0, spread=1.0, tail_ratio=1.0)
    assert pattern_features(np.zeros(0)).closed is False


def test_spread_of_three_electrodes_by_hand():
    # a right angle: the farthest pair is 5 apart over an arc of 3 + 4 = 7
    features = pattern_features(np.array([0.0, 3.0, 7.0]), None, False, np.array([[0, 0], [3, 0], [3, 4]]))
    assert features.spread == pytest.approx(5 / 7)
    # all electrodes at one arc position: no spread to measure
    assert pattern_features(np.array([2.0, 2.0, 2.0]), None, False, np.zeros((3, 2))).spread == 1.0


def _features(**changes):
    from cathx.postprocess.catheter_type import PatternFeatures

    base = dict(count=4, closed=False, gap_cv=0.0, alternation=0.0, tip_ratio=1.0, mean_gap=4.0, spread=1.0,
                tail_ratio=1.0)
    return PatternFeatures(**{**base, **changes})


@pytest.mark.parametrize(("changes", "expected"), [
    (dict(tip_ratio=1.05), "quadripolar"), (dict(tip_ratio=1.0501), "ablation"),
    (dict(tail_ratio=1.3), "quadripolar"), (dict(tail_ratio=1.3001), "ablation"),
    (dict(gap_cv=0.3), "quadripolar"), (dict(gap_cv=0.3001), "ablation"),
    (dict(count=3), "quadripolar"), (dict(count=2), "pacing"), (dict(count=1), "pacing"),
    (dict(count=0), "unknown"),
    # 7-11 electrodes: a loop when closed or spread outside [0.65, 1.05]
    (dict(count=8, spread=0.65), "cs_decapolar"), (dict(count=8, spread=0.6499), "lasso"),
    (dict(count=8, spread=1.05), "cs_decapolar"), (dict(count=8, spread=1.0501), "lasso"),
    (dict(count=8, closed=True), "lasso"), (dict(count=12), "lasso"), (dict(count=11), "cs_decapolar"),
    (dict(count=7, closed=True), "lasso"),
    # 5-6: a closed centreline alone is not enough, the spread must say loop too
    (dict(count=5, closed=True), "cs_decapolar"), (dict(count=6, closed=True, spread=0.65), "cs_decapolar"),
    (dict(count=6, closed=True, spread=1.05), "cs_decapolar"), (dict(count=6, closed=True, spread=0.6), "lasso"),
    (dict(count=5, spread=1.2), "lasso"), (dict(count=6, spread=0.6499), "lasso"),
])
def test_classify_pattern_boundaries(changes, expected):
    assert classify_pattern(_features(**changes)) == expected


def test_polyline_closes_boundaries():
    # a square of side 10 traced back to 3 px from its start: 37 px along, 3 px apart
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10], [0, 3]], float)
    assert polyline_closes(square, reach=3.0, min_loop=25.0)  # reach and min_loop are inclusive
    assert not polyline_closes(square, reach=2.99, min_loop=25.0)
    assert polyline_closes(square, reach=3.0, min_loop=37.0) and not polyline_closes(square, reach=3.0, min_loop=37.01)
    assert not polyline_closes(square[:2]) and not polyline_closes(np.zeros((0, 2)))
    # three points suffice: out and straight back
    assert polyline_closes(np.array([[0, 0], [15, 0], [0, 1]]), reach=1.0, min_loop=25.0)
    # a long polyline is subsampled (every len // 200-th point) and still closes
    t = np.linspace(0, 2 * np.pi, 1001)
    circle = np.stack([100 * np.cos(t), 100 * np.sin(t)], 1)
    assert polyline_closes(circle) and not polyline_closes(circle[:500])


def test_mean_type_probabilities_by_hand():
    from cathx.postprocess.catheter_type import mean_type_probabilities, type_from_probabilities

    probabilities = np.zeros((5, 2, 2), np.float32)
    probabilities[0, 0, 0] = 1.0  # cell (row 0, col 0): class 0
    probabilities[3, 1, 1] = 1.0  # cell (row 1, col 1): class 3
    probabilities[1, 0, 1] = probabilities[2, 1, 0] = 1.0
    # a 20 x 40 frame (H, W): cells are 10 high, 20 wide; points outside are clipped to the border cells
    points = np.array([[-5.0, -5.0], [5.0, 2.0], [39.0, 19.0], [100.0, 100.0]])
    mean = mean_type_probabilities(probabilities, points, (20, 40))
    assert mean.tolist() == [0.5, 0.0, 0.0, 0.5, 0.0]  # two cells, each counted once
    assert mean_type_probabilities(probabilities, np.array([[20.0, 9.99]]), (20, 40)).tolist() == [0, 1, 0, 0, 0]
    assert mean_type_probabilities(probabilities, np.zeros((0, 2)), (20, 40)) is None
    assert mean_type_probabilities(probabilities[0], points, (20, 40)) is None  # not (T, h, w)
    assert type_from_probabilities(probabilities, np.array([[30.0, 15.0]]), (20, 40)) == ("lasso", 1.0)
    assert type_from_probabilities(probabilities, np.zeros((0, 2)), (20, 40)) == ("unknown", 0.0)
