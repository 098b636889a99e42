from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.catheter_type import (
    classify_catheter,
    classify_ground_truth,
    pattern_features,
    polyline_closes,
    type_accuracy,
)


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
    assert len(pairs) >= 6
    assert type_accuracy(pairs)["accuracy"] >= 0.7
