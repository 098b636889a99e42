import math

import numpy as np
import pytest
import torch

from cathx.heatmap import encode_targets
from cathx.metrics import (
    Evaluator,
    boxes_from_centres,
    coco_ap,
    detection_kpi,
    error_to_kpi,
    match_points,
    penalised_error,
    sample_kpis,
)


def test_match_points_hungarian_not_greedy():
    # Greedy nearest-first would pair pred 0 with target 1 (distance 1), leaving pred 1 with
    # target 0 at 3.5 (total 4.5); Hungarian pairs (0, 0) and (1, 1) (total 2.5).
    pred = np.array([[0.0, 0.0], [2.0, 0.0]])
    target = np.array([[-1.5, 0.0], [1.0, 0.0]])
    rows, cols, distance = match_points(pred, target, max_distance=10)
    assert dict(zip(rows.tolist(), cols.tolist())) == {0: 0, 1: 1}
    assert distance.tolist() == pytest.approx([1.5, 1.0])


def test_match_points_gate_and_empty():
    rows, cols, distance = match_points(np.array([[0.0, 0.0]]), np.array([[20.0, 0.0]]), max_distance=10)
    assert len(rows) == len(cols) == len(distance) == 0
    assert len(match_points(np.zeros((0, 2)), np.array([[1.0, 1.0]]))[2]) == 0


def test_penalised_error_hand_computed():
    pred = np.array([[0.0, 0.0], [50.0, 50.0]])  # one match at 3 px, one spurious
    target = np.array([[3.0, 0.0], [90.0, 90.0]])  # one missed
    # terms: 3, cap (spurious), cap (missed) with cap 10: MAE = 23/3, RMSE = sqrt(209/3)
    assert penalised_error(pred, target, cap=10, kind="mae") == pytest.approx(23 / 3)
    assert penalised_error(pred, target, cap=10, kind="rmse") == pytest.approx(math.sqrt(209 / 3))
    assert penalised_error(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0


def test_error_to_kpi():
    assert error_to_kpi(0.0) == 1.0
    assert error_to_kpi(2.0, tau=2.0) == 0.5
    assert error_to_kpi(10.0, tau=2.0) == pytest.approx(1 / 6)


def test_boxes_from_centres():
    np.testing.assert_allclose(boxes_from_centres(np.array([[10.0, 20.0]]), np.array([[4.0, 6.0]])), [[8, 17, 4, 6]])


def test_coco_ap_perfect_half_and_empty():
    targets = [(np.array([[10.0, 10.0], [30.0, 30.0]]), np.array([[4.0, 4.0], [4.0, 4.0]]))]
    perfect = [np.array([[10, 10, 0.9, 4, 4], [30, 30, 0.8, 4, 4]], np.float64)]
    result = coco_ap(targets, perfect)
    assert result["ap"] == pytest.approx(1.0) and result["ap50"] == pytest.approx(1.0)
    # One electrode found, the other missed: precision 1 up to recall 0.5 -> AP ~0.5 (101-point).
    half = [np.array([[10, 10, 0.9, 4, 4]], np.float64)]
    assert coco_ap(targets, half)["ap"] == pytest.approx(51 / 101, abs=1e-6)
    # A 4x4 box shifted by 1 px: IoU = 12/20 = 0.6 -> counts for thresholds 0.50, 0.55, 0.60.
    shifted = [np.array([[11, 10, 0.9, 4, 4], [31, 30, 0.8, 4, 4]], np.float64)]
    assert coco_ap(targets, shifted)["ap"] == pytest.approx(3 / 10)
    assert coco_ap(targets, [np.zeros((0, 5))])["ap"] == 0.0
    assert math.isnan(coco_ap([(np.zeros((0, 2)), np.zeros((0, 2)))], [np.zeros((0, 5))])["ap"])


def test_evaluator_rows_and_summary():
    evaluator = Evaluator(score_threshold=0.3, match_distance=10)
    mask = np.zeros((8, 8), bool)
    mask[2, 1:7] = True
    row = evaluator.update("a", mask, mask, np.array([[11, 10, 0.9, 4, 4], [40, 40, 0.1, 4, 4]]),
                           np.array([[12.0, 10.0], [30.0, 30.0]]), np.array([[4.0, 4.0], [4.0, 4.0]]))
    assert row["iou"] == 1.0 and row["n_detected"] == 1 and row["n_matched"] == 1
    assert row["mae"] == 1.0 and row["recall3"] == 0.5 and row["recall5"] == 0.5
    evaluator.update("b", np.zeros((8, 8), bool), mask)  # segmentation only
    summary = evaluator.summary()
    assert summary["images"] == 2 and summary["mean_j"] == 0.5
    assert summary["mae"] == 1.0 and summary["recall3"] == 0.5 and summary["electrodes"] == 2
    assert 0 < summary["ap50"] <= 1 and len(summary["pr_curve"]["recall"]) == 101


def test_detection_kpi_from_perfect_heatmap():
    points = torch.tensor([[[10.0, 10.0], [40.0, 22.0]], [[5.0, 5.0], [0.0, 0.0]]])
    valid = torch.tensor([[True, True], [True, False]])
    sizes = torch.full((2, 2, 2), 4.0)
    targets = encode_targets(points, sizes, valid, (64, 64))
    logits = torch.logit(targets["heatmap"].clamp(1e-6, 1 - 1e-6))
    kpi = detection_kpi(logits, targets["size"], points, valid)
    assert kpi.tolist() == pytest.approx([1.0, 1.0], abs=0.02)
    empty = torch.full_like(logits, -10.0)
    assert detection_kpi(empty, None, points, valid).tolist() == pytest.approx([1 / 6, 1 / 6])


def test_sample_kpis_nan_where_unlabelled():
    batch = {
        "mask": torch.ones(2, 1, 32, 32),
        "has_mask": torch.tensor([True, False]),
        "electrodes": torch.zeros(2, 1, 2),
        "electrode_valid": torch.zeros(2, 1, dtype=torch.bool),
        "has_electrodes": torch.tensor([False, True]),
    }
    outputs = {"mask": torch.full((2, 1, 32, 32), 5.0), "heatmap": torch.full((2, 1, 8, 8), -9.0),
               "size": torch.zeros(2, 2, 8, 8)}
    kpis = sample_kpis(outputs, batch)
    assert kpis["segmentation"][0] == 1.0 and math.isnan(kpis["segmentation"][1])
    assert math.isnan(kpis["detection"][0]) and kpis["detection"][1] == 1.0  # no electrode, none predicted


def test_evaluator_default_size_and_unlabelled_rows():
    evaluator = Evaluator(default_size=4.0)
    # Sizes missing (None) or zero: boxes get the default 4 px side, so a perfect centre is a hit.
    evaluator.update("a", detections=np.array([[10, 10, 0.9, 4, 4]]), target_points=np.array([[10.0, 10.0]]))
    evaluator.update("b", detections=np.array([[30, 30, 0.9, 4, 4]]), target_points=np.array([[30.0, 30.0]]),
                     target_sizes=np.zeros((1, 2)))
    row = evaluator.update("c")  # nothing labelled
    assert math.isnan(row["iou"]) and math.isnan(row["mae"]) and row["n_electrodes"] == 0
    summary = evaluator.summary()
    assert summary["ap"] == pytest.approx(1.0) and summary["mae"] == 0.0 and math.isnan(summary["mean_j"])


def two_image_case():
    """Two images of 10x4 (w x h) electrodes, each found once, plus a false positive scored first.

    Image 1: ground truth at (10, 10), found exactly (IoU 1, score 0.9).
    Image 2: ground truth at (30, 30), found 2 px to the right (IoU 32 / 48 = 2/3, score 0.8),
    and a detection at (60, 60) over nothing with the highest score (0.95).
    """
    size = np.array([[10.0, 4.0]])
    targets = [(np.array([[10.0, 10.0]]), size), (np.array([[30.0, 30.0]]), size)]
    detections = [np.array([[10, 10, 0.9, 10, 4]], np.float64),
                  np.array([[60, 60, 0.95, 10, 4], [32, 30, 0.8, 10, 4]], np.float64)]
    return targets, detections


def test_coco_ap_false_positive_first_non_square_hand_computed():
    targets, detections = two_image_case()
    result = coco_ap(targets, detections)
    # Ranked: FP (0.95), exact (0.9), shifted (0.8); two ground truths.
    # IoU <= 2/3 (thresholds 0.50-0.65): FP, TP, TP -> precision 0, 1/2, 2/3 at recall 0, 1/2, 1;
    # the interpolated precision is 2/3 at every one of the 101 recall points: AP = 2/3.
    # IoU >= 0.70 (0.70-0.95): FP, TP, FP -> recall reaches 1/2 only; interpolated precision 1/2 at
    # the 51 recall points 0..0.50 and 0 above: AP = 0.5 * 51 / 101.
    high = 0.5 * 51 / 101
    assert result["ap50"] == pytest.approx(2 / 3)
    assert result["ap75"] == pytest.approx(high)
    assert result["ap"] == pytest.approx((4 * 2 / 3 + 6 * high) / 10)
    np.testing.assert_allclose(result["precision50"], np.full(101, 2 / 3))


def test_coco_ap_reads_detection_width_then_height():
    targets, detections = two_image_case()
    # The same detections with w and h exchanged (4 x 10 over 10 x 4: IoU 16 / 64) match nothing.
    swapped = [found[:, [0, 1, 2, 4, 3]] for found in detections]
    assert coco_ap(targets, swapped)["ap50"] == 0.0
    # Wide boxes against wide ground truth are all hits once the false positive is gone.
    assert coco_ap(targets, [detections[0], detections[1][1:]])["ap50"] == pytest.approx(1.0)


def test_evaluator_summary_mean_j_dice_and_ap_hand_computed():
    # Image a: prediction and target of 3 px sharing 2 -> IoU 2/4, Dice 4/6.
    # Image b: one identical pixel -> IoU 1, Dice 1.
    # Mean J = 0.75; mean Dice = 5/6; pooled IoU = (2 + 1) / (4 + 1) = 0.6: all three differ.
    pred_a, target_a = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    pred_a[0, :3] = True
    target_a[0, 1:] = True
    single = np.zeros((4, 4), bool)
    single[2, 2] = True
    targets, detections = two_image_case()
    evaluator = Evaluator(score_threshold=0.3, match_distance=10)
    evaluator.update("a", pred_a, target_a, detections[0], *targets[0])
    evaluator.update("b", single, single, detections[1], *targets[1])
    summary = evaluator.summary()
    assert summary["mean_j"] == pytest.approx(0.75)
    assert summary["dice"] == pytest.approx(5 / 6)
    assert summary["ap50"] == pytest.approx(2 / 3)
    assert summary["ap75"] == pytest.approx(0.5 * 51 / 101)
    assert summary["ap"] == pytest.approx((4 * 2 / 3 + 6 * 0.5 * 51 / 101) / 10)
    # Localisation: exact (0 px) and 2 px pairs; the false positive at (60, 60) is out of the gate.
    assert summary["mae"] == pytest.approx(1.0) and summary["recall3"] == 1.0


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_sample_kpis_reads_the_heatmap_stride_from_the_image(stride):
    # A perfect heatmap at the model's stride gives kappa_d = 1; decoding it at another stride
    # would put every peak at stride_used / stride times its position (errors of 10+ px, kappa ~1/6).
    points = torch.tensor([[[10.0, 12.0], [40.0, 22.0]]])
    valid = torch.ones(1, 2, dtype=torch.bool)
    targets = encode_targets(points, torch.full((1, 2, 2), 4.0), valid, (48, 48), stride=stride)
    assert targets["heatmap"].shape[-1] == 48 // stride
    outputs = {"heatmap": torch.logit(targets["heatmap"].clamp(1e-6, 1 - 1e-6)), "size": targets["size"]}
    batch = {"image": torch.zeros(1, 1, 48, 48), "electrodes": points, "electrode_valid": valid,
             "has_electrodes": torch.tensor([True])}
    assert sample_kpis(outputs, batch)["detection"].tolist() == pytest.approx([1.0], abs=0.02)


def test_localisation_errors_are_the_matched_distances_within_the_gate():
    from cathx.metrics.detection import localisation_errors

    pred = np.array([[0.0, 0.0], [20.0, 0.0], [50.0, 50.0]])
    target = np.array([[3.0, 4.0], [20.0, 6.0], [90.0, 90.0]])
    assert sorted(localisation_errors(pred, target).tolist()) == pytest.approx([5.0, 6.0])  # gate 10 px
    assert sorted(localisation_errors(pred, target, max_distance=5.5).tolist()) == pytest.approx([5.0])


def test_penalised_error_uses_its_cap_as_the_gate_and_mae_by_default():
    pred, target = np.array([[0.0, 0.0]]), np.array([[0.0, 6.0]])
    assert penalised_error(pred, target) == pytest.approx(6.0)  # matched within the default 10 px gate
    # cap 4: no match, so one miss and one false positive, each counted as 4
    assert penalised_error(pred, target, cap=4.0) == pytest.approx(4.0)
    assert penalised_error(pred, target, cap=4.0, kind="rmse") == pytest.approx(4.0)
    with pytest.raises(ValueError, match=r"^unknown error kind 'median'; choose from mae, rmse$"):
        penalised_error(pred, target, kind="median")


def test_evaluator_rows_and_summary_at_the_edges_by_hand():
    """Score exactly at the threshold counts, a distance exactly at a recall radius counts, a size of 0
    becomes the default 4 px box, and frames without electrode labels give empty detection rows."""
    targets = np.array([[10.0, 10.0], [30.0, 30.0]])
    sizes = np.array([[0.0, 0.0], [6.0, 6.0]])  # the first has no size: default 4 x 4
    detections = np.array([
        [10.0, 10.0, 0.9, 4.0, 4.0],  # on target 0, same 4 x 4 box: IoU 1
        [33.0, 30.0, 0.3, 6.0, 6.0],  # 3 px from target 1, score at the threshold; box IoU 18 / 54
        [60.0, 60.0, 0.29, 4.0, 4.0],  # below the threshold: in AP only
    ])
    evaluator = Evaluator(score_threshold=0.3)
    row = evaluator.update("a", detections=detections, target_points=targets, target_sizes=sizes)
    assert (row["n_electrodes"], row["n_detected"], row["n_matched"]) == (2, 2, 2)
    assert row["mae"] == pytest.approx(1.5) and row["recall3"] == 1.0 and row["recall5"] == 1.0
    mask = np.zeros((8, 8), bool)
    mask[2:6, 3] = True
    masked = evaluator.update("b", pred_mask=mask, target_mask=mask)
    assert (masked["n_electrodes"], masked["n_detected"], masked["n_matched"]) == (0, 0, 0)
    assert math.isnan(masked["mae"]) and math.isnan(masked["recall3"]) and math.isnan(masked["recall5"])
    only_prediction = evaluator.update("c", pred_mask=mask)
    assert math.isnan(only_prediction["iou"]) and math.isnan(only_prediction["cldice"])
    summary = evaluator.summary()
    assert summary["mean_j"] == 1.0 and summary["cldice"] == 1.0 and summary["electrodes"] == 2
    assert summary["mae"] == pytest.approx(1.5) and summary["recall3"] == 1.0
    # one true positive at IoU 1 ranked first, then two false ones: precision 1 up to recall 0.5,
    # so the 101-point AP is 51 / 101 at IoU 0.5 and 0.75 alike (a 5 px default box: IoU 0.64 < 0.75)
    assert summary["ap50"] == pytest.approx(51 / 101) and summary["ap75"] == pytest.approx(51 / 101)
    assert set(summary["pr_curve"]) == {"recall", "precision"}
    gated = Evaluator(score_threshold=0.3, match_distance=2.5)
    assert gated.update("a", detections=detections, target_points=targets, target_sizes=sizes)["n_matched"] == 1


def test_evaluator_summary_without_electrode_labels():
    evaluator = Evaluator()
    evaluator.update("a", pred_mask=np.ones((4, 4), bool), target_mask=np.ones((4, 4), bool))
    summary = evaluator.summary()
    assert summary["electrodes"] == 0 and summary["pr_curve"] == {"recall": [], "precision": []}
    for key in ("ap", "ap50", "ap75", "mae", "recall3", "recall5"):
        assert math.isnan(summary[key]), key


def test_match_points_edges_by_hand():
    for pred, target in (([], [[1.0, 1.0]]), ([[1.0, 1.0]], []), ([], [])):
        rows, cols, distance = match_points(np.array(pred), np.array(target))
        assert (len(rows), len(cols), len(distance)) == (0, 0, 0)
        assert rows.dtype == np.int64 and cols.dtype == np.int64
    rows, cols, distance = match_points(np.array([[0.0, 0.0]]), np.array([[6.0, 8.0]]))  # exactly at the gate
    assert rows.tolist() == [0] and cols.tolist() == [0] and distance.tolist() == [10.0]
    assert rows.dtype == np.int64 and cols.dtype == np.int64
    # two pairs inside the gate (7 and 8 px) and two far apart: the pairs inside win, whatever the
    # cost given to pairs beyond the gate
    pred = np.array([[0.0, 0.0], [100.0, 0.0]])
    target = np.array([[7.0, 0.0], [108.0, 0.0]])
    rows, cols, distance = match_points(pred, target)
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1] and distance.tolist() == [7.0, 8.0]


def test_evaluator_default_box_for_targets_without_sizes_or_under_one_pixel():
    on_target = np.array([[10.0, 10.0, 0.9, 4.0, 4.0]])
    # no sizes at all: the default 4 x 4 box, so a 4 x 4 detection on it matches at IoU 1 (AP75 1)
    evaluator = Evaluator()
    evaluator.update("a", detections=on_target, target_points=np.array([[10.0, 10.0]]))
    assert evaluator.summary()["ap75"] == pytest.approx(1.0)
    # a 1-pixel size is kept (only sizes <= 0 are replaced): a 4 x 4 detection on it has IoU 1/16
    evaluator = Evaluator()
    evaluator.update("a", detections=on_target, target_points=np.array([[10.0, 10.0]]),
                     target_sizes=np.array([[1.0, 1.0]]))
    assert evaluator.summary()["ap50"] == pytest.approx(0.0)
    # electrodes labelled but no detections passed: no detection row, nothing to score
    row = Evaluator().update("a", target_points=np.array([[10.0, 10.0]]))
    assert (row["n_electrodes"], row["n_detected"]) == (0, 0)


@pytest.mark.filterwarnings("error")  # an empty mean or 0 / 0 must be caught, not warned about
def test_evaluator_empty_cases_give_nan_without_numpy_warnings():
    evaluator = Evaluator()
    far = np.array([[90.0, 90.0, 0.9, 4.0, 4.0]])
    # electrodes labelled, one detection far away: no match, so no MAE; recall 0
    row = evaluator.update("a", detections=far, target_points=np.array([[10.0, 10.0]]))
    assert math.isnan(row["mae"]) and row["recall3"] == 0.0
    # a frame labelled with no electrode at all: recall undefined
    row = evaluator.update("b", detections=far, target_points=np.zeros((0, 2)))
    assert math.isnan(row["recall3"]) and math.isnan(row["mae"])
    summary = evaluator.summary()
    assert math.isnan(summary["mae"]) and summary["recall3"] == 0.0 and math.isnan(summary["mean_j"])
    empty_only = Evaluator()
    empty_only.update("b", detections=far, target_points=np.zeros((0, 2)))
    summary = empty_only.summary()
    assert math.isnan(summary["recall3"]) and math.isnan(summary["mae"]) and summary["electrodes"] == 0
