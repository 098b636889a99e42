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


def test_iou_0_82_counts_up_to_the_0_80_threshold(capsys):
    # A 10x10 electrode found 1 px to the right: IoU 90 / 110 = 0.818, a hit at the thresholds
    # 0.50 ... 0.80 (7 of 10) and a miss from 0.85: AP = 0.7, AP50 = AP75 = 1.
    result = coco_ap([(np.array([[20.0, 20.0]]), np.array([[10.0, 10.0]]))],
                     [np.array([[21, 20, 0.9, 10, 10]], np.float64)])
    assert (result["ap"], result["ap50"], result["ap75"]) == pytest.approx((0.7, 1.0, 1.0))
    assert capsys.readouterr().out == ""  # pycocotools' progress lines stay out of the CLI's output


def test_more_than_ten_detections_in_an_image_all_count():
    # 12 electrodes, each found exactly with scores 0.99 ... 0.88: every one counts (COCO keeps
    # the 100 best per image), so AP50 = 1 and the score at recall 1 is the lowest, 0.88.
    points = np.stack([np.arange(12) * 20.0 + 10, np.full(12, 10.0)], axis=1)
    sizes = np.full((12, 2), 6.0)
    scores = 0.99 - np.arange(12) / 100
    found = np.concatenate([points, scores[:, None], sizes], axis=1)
    result = coco_ap([(points, sizes)], [found])
    assert result["ap50"] == pytest.approx(1.0)
    assert result["scores50"][-1] == pytest.approx(0.88)


def test_only_the_100_best_detections_of_an_image_count():
    # 100 detections over nothing outrank the one hit: the hit is the 101st and is dropped.
    false = np.array([[10 + 20 * (i % 10), 100 + 20 * (i // 10), 0.9, 6, 6] for i in range(100)], np.float64)
    hit = np.array([[10, 10, 0.5, 6, 6]], np.float64)
    result = coco_ap([(np.array([[10.0, 10.0]]), np.array([[6.0, 6.0]]))], [np.concatenate([false, hit])])
    assert result["ap50"] == 0.0
    assert coco_ap([(np.array([[10.0, 10.0]]), np.array([[6.0, 6.0]]))], [hit])["ap50"] == pytest.approx(1.0)
