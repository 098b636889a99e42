"""The learned type decision: features, the perceptron's arithmetic and its stored form."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.catheter_type import PatternFeatures
from cathx.postprocess.results import analyse_frame
from cathx.postprocess.type_classifier import FEATURE_NAMES, TypeClassifier, catheter_features
from cathx.structures import TYPE_HEAD_CLASSES
from postprocess.test_results_tracking import _frame


def _classifier(hidden: int = 3, seed: int = 0) -> TypeClassifier:
    rng = np.random.default_rng(seed)
    n = len(FEATURE_NAMES)
    return TypeClassifier(mean=rng.normal(size=n), scale=rng.uniform(0.5, 2, n), w1=rng.normal(size=(n, hidden)),
                          b1=rng.normal(size=hidden), w2=rng.normal(size=(hidden, 5)), b2=rng.normal(size=5))


def test_features_of_a_hand_made_pattern():
    pattern = PatternFeatures(count=4, closed=False, gap_cv=0.1, alternation=0.2, tip_ratio=2.0, mean_gap=5.0,
                              spread=0.9, tail_ratio=1.0)
    values = dict(zip(FEATURE_NAMES, catheter_features(pattern, 150.0, np.array([0.1, 0.2, 0.5, 0.1, 0.1]))))
    assert values["count"] == pytest.approx(0.4) and values["count_3_4"] == 1 and values["count_1_2"] == 0
    assert values["log_tip_ratio"] == pytest.approx(np.log(2.0)) and values["log_tail_ratio"] == 0
    assert values["mean_gap"] == pytest.approx(0.5) and values["length"] == pytest.approx(1.5)
    assert values["head_ablation"] == pytest.approx(0.5)
    empty = dict(zip(FEATURE_NAMES, catheter_features(PatternFeatures(0, False, 0, 0, 1, 0), 900.0, None)))
    assert empty["no_electrodes"] == 1 and empty["length"] == 4.0 and empty["head_lasso"] == 0


def test_probabilities_follow_the_formula():
    clf = _classifier()
    x = np.linspace(-1, 1, len(FEATURE_NAMES))
    hidden = np.maximum(((x - clf.mean) / clf.scale) @ clf.w1 + clf.b1, 0)
    logits = hidden @ clf.w2 + clf.b2
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(clf.probabilities(x), expected, rtol=1e-10)
    np.testing.assert_allclose(clf.probabilities(np.stack([x, x])), np.stack([expected, expected]), rtol=1e-10)
    kind, probability = clf(x)
    assert probability == pytest.approx(expected.max())


def test_round_trip_and_damaged_forms():
    clf = _classifier()
    again = TypeClassifier.from_dict(clf.to_dict())
    x = np.ones(len(FEATURE_NAMES))
    np.testing.assert_allclose(again.probabilities(x), clf.probabilities(x), atol=1e-5)
    data = clf.to_dict()
    with pytest.raises(ValueError, match="other features or classes"):
        TypeClassifier.from_dict({**data, "features": data["features"][:-1] + ["colour"]})
    with pytest.raises(ValueError, match="mean has shape"):  # a subset, but the numbers are for all
        TypeClassifier.from_dict({**data, "features": data["features"][:-1]})
    with pytest.raises(ValueError, match="w2 has shape"):
        TypeClassifier.from_dict({**data, "w2": np.zeros((4, 5)).tolist()})


def test_analyse_frame_lets_the_classifier_decide():
    mask, peaks = _frame()
    seen = []

    class AlwaysPacing:
        def decide(self, features):
            seen.extend(features)
            return [("pacing", 0.75)] * len(features)

    results = analyse_frame(mask, peaks, type_classifier=AlwaysPacing())
    assert [c.type for c in results.catheters] == ["pacing", "pacing"]
    assert [c.confidence for c in results.catheters] == [0.75, 0.75]
    counts = sorted(round(float(f[0]) * 10) for f in seen)  # the CS catheter's 10 rings, the quadripolar's 4
    assert counts == [4, 10]


@pytest.mark.parametrize(("count", "flags"), [
    (0, [1, 0, 0, 0, 0, 0]), (1, [0, 1, 0, 0, 0, 0]), (2, [0, 1, 0, 0, 0, 0]), (3, [0, 0, 1, 0, 0, 0]),
    (4, [0, 0, 1, 0, 0, 0]), (5, [0, 0, 0, 1, 0, 0]), (6, [0, 0, 0, 1, 0, 0]), (7, [0, 0, 0, 0, 1, 0]),
    (11, [0, 0, 0, 0, 1, 0]), (12, [0, 0, 0, 0, 0, 1]), (25, [0, 0, 0, 0, 0, 1]),
])
def test_count_flags_and_clipped_values(count, flags):
    pattern = PatternFeatures(count=count, closed=True, gap_cv=5.0, alternation=2.5, tip_ratio=9.0, mean_gap=55.0,
                              spread=3.0, tail_ratio=0.1)
    features = catheter_features(pattern, 512.0, None)
    named = dict(zip(FEATURE_NAMES, features.tolist()))
    assert features.dtype == np.float32 and features.shape == (len(FEATURE_NAMES),)
    assert named["count"] == pytest.approx(min(count, 20) / 10)
    assert [named[k] for k in ("no_electrodes", "count_1_2", "count_3_4", "count_5_6", "count_7_11",
                                "count_12_up")] == flags
    assert named["closed"] == 1.0 and named["gap_cv"] == 2.0 and named["alternation"] == 2.0  # clipped at 2
    assert named["log_tip_ratio"] == pytest.approx(np.log(4.0)) and named["log_tail_ratio"] == pytest.approx(np.log(0.25))
    assert named["mean_gap"] == 4.0 and named["spread"] == 2.0 and named["length"] == 4.0
    assert [named[k] for k in FEATURE_NAMES if k.startswith("head_")] == [0.0] * 5


def test_features_below_the_clips_pass_through():
    pattern = PatternFeatures(count=4, closed=False, gap_cv=1.5, alternation=0.5, tip_ratio=2.0, mean_gap=39.0,
                              spread=1.5, tail_ratio=0.5)
    named = dict(zip(FEATURE_NAMES, catheter_features(pattern, 399.0, np.array([[0.1, 0.2, 0.3, 0.4, 0.0]])).tolist()))
    assert named["gap_cv"] == 1.5 and named["alternation"] == 0.5 and named["closed"] == 0.0
    assert named["log_tip_ratio"] == pytest.approx(np.log(2.0)) and named["log_tail_ratio"] == pytest.approx(np.log(0.5))
    assert named["mean_gap"] == pytest.approx(3.9) and named["spread"] == 1.5 and named["length"] == pytest.approx(3.99)
    assert [named[k] for k in FEATURE_NAMES if k.startswith("head_")] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.0])


def test_decide_gives_one_answer_per_row():
    rng = np.random.default_rng(0)
    features = len(FEATURE_NAMES)
    classifier = TypeClassifier(np.zeros(features), np.ones(features), rng.normal(size=(features, 4)), np.zeros(4),
                                rng.normal(size=(4, 5)), np.zeros(5))
    table = rng.normal(size=(3, features))
    decided = classifier.decide(table)
    probabilities = classifier.probabilities(table)
    assert len(decided) == 3 and [p for _, p in decided] == pytest.approx(probabilities.max(axis=1).tolist())
    one = classifier(table[1])  # one row takes another BLAS path: equal up to rounding
    assert one[0] == decided[1][0] and one[1] == pytest.approx(decided[1][1], rel=1e-12)
    assert classifier.decide(np.zeros((0, features))) == []


def test_centreline_features_are_the_length_and_the_heads_mean_along_it():
    from cathx.postprocess.catheter_type import pattern_features
    from cathx.postprocess.type_classifier import centreline_features

    line = np.array([[0.0, 4.0], [30.0, 4.0], [30.0, 44.0]])  # 70 px long
    pattern = pattern_features(np.array([2.0, 7.0, 12.0]), np.full((3, 2), 2.0), False,
                               np.array([[2.0, 4.0], [7.0, 4.0], [12.0, 4.0]]))
    named = dict(zip(FEATURE_NAMES, centreline_features(pattern, line, None, (64, 64)).tolist()))
    assert named["length"] == pytest.approx(0.7)
    # one right-angle corner over about 70 px (resampling cuts the corner a little shorter)
    assert named["turning"] == pytest.approx(10 * (np.pi / 2) / 70, rel=0.03)
    assert named["electrode_turning"] == 0.0  # no electrodes given
    electrodes = np.array([[2.0, 4.0], [7.0, 4.0], [12.0, 4.0]])
    head = np.zeros((5, 8, 8), np.float32)
    head[2] = 1.0  # every cell says the third type
    head[2, 0, 0], head[4, 0, 0] = 0.0, 1.0  # but the cell holding the first electrode the fifth
    named = dict(zip(FEATURE_NAMES, centreline_features(pattern, line, head, (64, 64), electrodes).tolist()))
    along = [named[f"head_{kind}"] for kind in TYPE_HEAD_CLASSES]
    at = [named[f"electrode_head_{kind}"] for kind in TYPE_HEAD_CLASSES]
    # the cells of the line's three points (the first holds the fifth type), and of the electrodes (two)
    assert along == pytest.approx([0, 0, 2 / 3, 0, 1 / 3]) and at == pytest.approx([0, 0, 0.5, 0, 0.5])
    assert named["electrode_turning"] == 0.0  # the electrodes lie on a straight row


def test_turning_per_pixel_by_hand():
    from cathx.postprocess.compiled import turning_per_pixel

    assert turning_per_pixel(np.array([[0.0, 0.0], [5.0, 0.0], [9.0, 0.0]])) == 0.0
    # two left turns of 90 degrees over 3 steps of 2 px: pi / 6 per px; direction does not matter
    square = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
    assert turning_per_pixel(square) == pytest.approx(np.pi / 6)
    assert turning_per_pixel(square[::-1]) == pytest.approx(np.pi / 6)
    # a repeated point is skipped; fewer than two steps turn nothing
    assert turning_per_pixel(np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 0.0], [2.0, 2.0]])) == pytest.approx(np.pi / 8)
    assert turning_per_pixel(np.array([[0.0, 0.0], [3.0, 4.0]])) == 0.0
    # 72 chords round a circle of radius 10: 71 turns of 5 degrees over 72 chords of 20 sin(2.5
    # degrees) px, about 1/10 per px
    angle = np.linspace(0, 2 * np.pi, 73)
    circle = 10 * np.stack([np.cos(angle), np.sin(angle)], 1)
    expected = (71 * 2 * np.pi / 72) / (72 * 20 * np.sin(np.pi / 72))
    assert turning_per_pixel(circle) == pytest.approx(expected) and 0.098 < expected < 0.1


def test_a_decision_fitted_on_fewer_features_reads_only_its_columns():
    from cathx.postprocess.type_classifier import FEATURE_NAMES_V1

    rng = np.random.default_rng(1)
    n = len(FEATURE_NAMES_V1)
    old = TypeClassifier(mean=rng.normal(size=n), scale=rng.uniform(0.5, 2, n), w1=rng.normal(size=(n, 3)),
                         b1=rng.normal(size=3), w2=rng.normal(size=(3, 5)), b2=rng.normal(size=5),
                         features=FEATURE_NAMES_V1)
    loaded = TypeClassifier.from_dict(old.to_dict())  # a checkpoint's decision from before the new inputs
    assert loaded.features == FEATURE_NAMES_V1 and loaded.to_dict()["features"] == list(FEATURE_NAMES_V1)
    table = rng.normal(size=(4, len(FEATURE_NAMES)))
    x = (table[:, :n] - loaded.mean) / loaded.scale  # to_dict rounds the numbers: the loaded ones
    logits = np.maximum(x @ loaded.w1 + loaded.b1, 0) @ loaded.w2 + loaded.b2
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loaded.probabilities(table), expected, rtol=1e-9)
    changed = table.copy()
    changed[:, n:] = 99.0  # the inputs it was not fitted on do not matter
    np.testing.assert_allclose(loaded.probabilities(changed), expected, rtol=1e-9)
    # its columns in another order: the names say which is which
    shuffled = TypeClassifier.from_dict({**old.to_dict(), "features": list(FEATURE_NAMES_V1[::-1])})
    assert shuffled.columns == list(range(n))[::-1]


def test_score_features_are_the_mean_and_the_confident_count():
    from cathx.postprocess.catheter_type import pattern_features
    from cathx.postprocess.type_classifier import centreline_features

    line = np.array([[0.0, 4.0], [40.0, 4.0]])
    electrodes = np.array([[2.0, 4.0], [7.0, 4.0], [12.0, 4.0]])
    pattern = pattern_features(np.array([2.0, 7.0, 12.0]), np.full((3, 2), 2.0), False, electrodes)
    named = dict(zip(FEATURE_NAMES, centreline_features(pattern, line, None, (64, 64), electrodes,
                                                        np.array([0.9, 0.3, 0.6])).tolist()))
    assert named["score_mean"] == pytest.approx(0.6) and named["count_confident"] == pytest.approx(0.2)
    unscored = dict(zip(FEATURE_NAMES, centreline_features(pattern, line, None, (64, 64), electrodes).tolist()))
    assert unscored["score_mean"] == 1.0 and unscored["count_confident"] == pytest.approx(0.3)  # taken as sure
    bare = pattern_features(np.zeros(0), np.zeros((0, 2)), False, np.zeros((0, 2)))
    named = dict(zip(FEATURE_NAMES, centreline_features(bare, line, None, (64, 64)).tolist()))
    assert named["score_mean"] == 0.0 and named["count_confident"] == 0.0


def test_a_decision_fitted_before_the_scores_reads_its_27_inputs():
    from cathx.postprocess.type_classifier import FEATURE_NAMES_V2, TypeClassifier

    n = len(FEATURE_NAMES_V2)
    rng = np.random.default_rng(0)
    old = TypeClassifier(mean=np.zeros(n), scale=np.ones(n), w1=rng.normal(size=(n, 4)), b1=np.zeros(4),
                         w2=rng.normal(size=(4, 5)), b2=np.zeros(5), features=FEATURE_NAMES_V2)
    table = rng.random((3, len(FEATURE_NAMES)))
    changed = table.copy()
    changed[:, -2:] = 0.0  # the score inputs it does not read
    np.testing.assert_allclose(old.probabilities(table), old.probabilities(changed))
    assert len(FEATURE_NAMES) == n + 2
