from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.catheter_type import classify_catheter, pattern_features


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
