"""coco_ap's precision-recall curves (what the PR plots of `cathx val` draw) and its edge cases,
hand-computed; written to kill the mutants `make mutation` found surviving in coco_ap."""

import numpy as np
import pytest

from cathx.metrics import coco_ap

SIZE = np.array([[6.0, 6.0], [6.0, 6.0]])
TARGETS = [(np.array([[10.0, 10.0], [40.0, 40.0]]), SIZE)]
RECALL = np.arange(101) / 100


def test_curves_at_iou_50_one_hit_then_one_false_positive():
    # Two electrodes; ranked detections: exact hit (0.9), then one over nothing (0.6).
    # Precision 1 then 1/2 at recall 1/2: interpolated precision 1 up to recall 0.50, 0 beyond,
    # and the score at each of those recall points is the hit's, 0 beyond. AP50 = 51/101.
    found = [np.array([[10, 10, 0.9, 6, 6], [70, 70, 0.6, 6, 6]], np.float64)]
    result = coco_ap(TARGETS, found)
    np.testing.assert_allclose(result["recall"], RECALL, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result["precision50"], [1.0] * 51 + [0.0] * 50, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result["scores50"], [0.9] * 51 + [0.0] * 50)
    assert result["ap50"] == pytest.approx(51 / 101)


def test_no_ground_truth_gives_nan_ap_and_nan_curves():
    result = coco_ap([(np.zeros((0, 2)), np.zeros((0, 2)))], [np.array([[5, 5, 0.9, 6, 6]], np.float64)])
    assert all(np.isnan(result[k]) for k in ("ap", "ap50", "ap75"))
    np.testing.assert_allclose(result["recall"], RECALL, rtol=0, atol=1e-12)
    for key in ("precision50", "scores50"):
        assert result[key].shape == (101,) and np.isnan(result[key]).all()


def test_no_detection_gives_zero_ap_and_zero_curves():
    result = coco_ap(TARGETS, [np.zeros((0, 5))])
    assert (result["ap"], result["ap50"], result["ap75"]) == (0.0, 0.0, 0.0)
    np.testing.assert_allclose(result["recall"], RECALL, rtol=0, atol=1e-12)
    for key in ("precision50", "scores50"):
        np.testing.assert_array_equal(result[key], np.zeros(101))


def test_more_images_than_detection_lists_is_named():
    with pytest.raises(ValueError, match="^2 targets but 1 detection lists$"):
        coco_ap(TARGETS * 2, [np.zeros((0, 5))])
