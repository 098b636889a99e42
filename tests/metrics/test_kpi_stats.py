"""KPI statistics and the KPI of a set (paper Eq. 5), hand-computed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cathx.heatmap import encode_targets
from cathx.metrics.kpi import (
    detection_kpi_stats,
    error_terms,
    kpi_from_stats,
    pooled_kpi,
    sample_kpi_stats,
    sample_kpis,
    segmentation_kpi,
    segmentation_kpi_stats,
)

T = torch.tensor


def test_set_kpi_of_errors_0_and_10_px_is_the_kpi_of_their_mae():
    # two one-electrode images, errors 0 and 10 px: MAE of the set 5 px -> 1 / (1 + 5 / 2) = 2/7
    stats = T([[0.0, 1.0], [10.0, 1.0]])
    assert float(pooled_kpi(stats, "mae", tau=2.0)) == pytest.approx(1 / 3.5)  # 0.286
    per_sample = kpi_from_stats(stats, "mae", tau=2.0)
    assert per_sample.tolist() == pytest.approx([1.0, 1 / 6])
    assert float(per_sample.mean()) == pytest.approx(7 / 12)  # 0.583, the mean of the per-sample KPIs
    # RMSE of the set: sqrt((0 + 100) / 2) = 7.07 px
    squared = T([[0.0, 1.0], [100.0, 1.0]])
    assert float(pooled_kpi(squared, "rmse", tau=2.0)) == pytest.approx(1 / (1 + math.sqrt(50) / 2))


def test_set_iou_pools_intersections_and_unions():
    # image 0: I = 1, U = 1 (IoU 1); image 1: I = 0, U = 3 (IoU 0). Set: 1 / 4; mean of samples 0.5
    pred = torch.zeros(2, 1, 1, 4)
    target = torch.zeros(2, 1, 1, 4)
    pred[0, 0, 0, 0] = target[0, 0, 0, 0] = 1
    pred[1, 0, 0, :2] = 1
    target[1, 0, 0, 2] = 1
    stats = segmentation_kpi_stats(pred * 20 - 10, target, "iou")
    assert stats.tolist() == [[0.0, 1.0], [3.0, 3.0]]
    assert kpi_from_stats(stats, "iou").tolist() == [1.0, 0.0]
    assert float(pooled_kpi(stats, "iou")) == pytest.approx(0.25)
    dice = segmentation_kpi_stats(pred * 20 - 10, target, "dice")  # (|P| + |T| - 2I, |P| + |T|)
    assert dice.tolist() == [[0.0, 2.0], [3.0, 3.0]]
    assert float(pooled_kpi(dice, "dice")) == pytest.approx(1 - 3 / 5)


def test_nothing_to_measure_is_perfect_and_unlabelled_stays_nan():
    assert kpi_from_stats(T([[0.0, 0.0]]), "iou").tolist() == [1.0]
    assert kpi_from_stats(T([[0.0, 0.0]]), "mae").tolist() == [1.0]
    assert math.isnan(float(kpi_from_stats(T([math.nan, math.nan]), "mae")))
    assert float(pooled_kpi(T([[0.5, 1.0], [1.5, 1.0]]), "loss")) == pytest.approx(math.exp(-1.0))
    with pytest.raises(ValueError, match="choose from iou, dice, mae, rmse, loss"):
        kpi_from_stats(T([[0.0, 1.0]]), "ap")


def test_error_terms_count_misses_at_the_cap():
    # one pair 3 px apart, one missed ground truth, one spurious prediction -> 3 + 10 + 10 over 3 terms
    pred = np.array([[0.0, 0.0], [50.0, 50.0]])
    target = np.array([[3.0, 0.0], [90.0, 90.0]])
    assert error_terms(pred, target, cap=10.0, kind="mae") == (23.0, 3)
    assert error_terms(pred, target, cap=10.0, kind="rmse") == (209.0, 3)
    assert error_terms(np.zeros((0, 2)), np.zeros((0, 2))) == (0.0, 0)


def test_per_sample_kpis_from_stats_match_sample_kpis():
    generator = torch.Generator().manual_seed(0)
    points = T([[[10.0, 12.0], [40.0, 22.0]], [[20.0, 20.0], [0.0, 0.0]]])
    valid = T([[True, True], [True, False]])
    targets = encode_targets(points, torch.full((2, 2, 2), 4.0), valid, (48, 48), stride=2)
    heatmap = torch.logit(targets["heatmap"].clamp(1e-6, 1 - 1e-6)) + torch.randn(2, 1, 24, 24, generator=generator)
    outputs = {"mask": torch.randn(2, 1, 48, 48, generator=generator), "heatmap": heatmap, "size": targets["size"]}
    batch = {"image": torch.zeros(2, 1, 48, 48), "mask": (torch.rand(2, 1, 48, 48, generator=generator) > 0.7).float(),
             "has_mask": T([True, False]), "electrodes": points, "electrode_valid": valid,
             "has_electrodes": T([True, True])}
    for seg, det in (("iou", "mae"), ("dice", "rmse")):
        direct = sample_kpis(outputs, batch, segmentation=seg, detection=det)
        stats = sample_kpi_stats(outputs, batch, segmentation=seg, detection=det)
        from_stats = kpi_from_stats(stats["segmentation"], seg)
        assert from_stats[0].item() == pytest.approx(direct["segmentation"][0].item(), abs=1e-6)
        assert math.isnan(from_stats[1]) and math.isnan(direct["segmentation"][1])
        torch.testing.assert_close(kpi_from_stats(stats["detection"], det), direct["detection"])


def test_set_kpi_uses_the_given_tau():
    # errors 0 and 10 px, MAE of the set 5 px: tau = 5 gives 1 / (1 + 5 / 5) = 0.5 (the default
    # tau = 2 would give 2/7)
    assert float(pooled_kpi(T([[0.0, 1.0], [10.0, 1.0]]), "mae", tau=5.0)) == pytest.approx(0.5)


def _perfect_heatmap(points: torch.Tensor, valid: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    targets = encode_targets(points, torch.full((*points.shape[:2], 2), 4.0), valid, (size, size), stride=stride)
    return torch.logit(targets["heatmap"].clamp(1e-6, 1 - 1e-6))


def test_segmentation_kpis_default_to_iou_with_logit_0_and_target_0_5_as_background():
    # logits 5, 5, 0, -5 -> predicted 1, 1, 0, 0 (a logit of 0 is probability 0.5: background);
    # targets 1, 0.5, 1, 0 -> 1, 0, 1, 0. I = 1, U = 3: IoU 1/3 (Dice would be 1/2).
    logits = T([[[[5.0, 5.0, 0.0, -5.0]]]])
    target = T([[[[1.0, 0.5, 1.0, 0.0]]]])
    assert segmentation_kpi(logits, target).tolist() == pytest.approx([1 / 3])
    assert segmentation_kpi_stats(logits, target).tolist() == [[2.0, 3.0]]


def test_twenty_electrodes_are_all_decoded_at_the_default_stride():
    # 20 electrodes on a 128 px frame, a perfect stride-4 heatmap: all 20 found within a pixel, so
    # 20 terms and an error sum under 20 px (decoding only 16 peaks would leave 4 misses at the cap).
    grid = torch.stack(torch.meshgrid(torch.arange(5), torch.arange(4), indexing="xy"), -1).reshape(1, 20, 2)
    points = grid.float() * 24 + 12
    valid = torch.ones(1, 20, dtype=torch.bool)
    stats = detection_kpi_stats(_perfect_heatmap(points, valid, 128, 4), None, points, valid)
    assert stats[0, 1].item() == 20 and stats[0, 0].item() < 20


def test_detection_kpi_stats_squares_the_terms_for_rmse():
    # one electrode found 3 px to the right (stride-1 heatmap): MAE terms (3, 1), RMSE terms (9, 1)
    valid = torch.ones(1, 1, dtype=torch.bool)
    heatmap = _perfect_heatmap(T([[[23.0, 20.0]]]), valid, 48, 1)
    truth = T([[[20.0, 20.0]]])
    assert detection_kpi_stats(heatmap, None, truth, valid, "mae", stride=1).tolist() == [[3.0, 1.0]]
    assert detection_kpi_stats(heatmap, None, truth, valid, "rmse", stride=1).tolist() == [[9.0, 1.0]]
    with pytest.raises(ValueError, match="^unknown detection KPI 'ap'; choose from mae, rmse$"):
        detection_kpi_stats(heatmap, None, truth, valid, "ap")


def test_error_terms_gate_at_the_given_cap():
    # 6 px apart with cap 5: no match, so a miss and a spurious term at the cap: (5 + 5, 2)
    assert error_terms(np.array([[0.0, 0.0]]), np.array([[6.0, 0.0]]), cap=5.0) == (10.0, 2)
    with pytest.raises(ValueError, match="^unknown detection KPI 'ap'; choose from mae, rmse$"):
        error_terms(np.zeros((0, 2)), np.zeros((0, 2)), kind="ap")


def test_sample_kpi_stats_defaults_without_an_image_and_unlabelled_rows():
    # no "image" in the batch: the heatmap is read at stride 4; sample 1 has no electrode labels
    # and no mask label, so its rows are NaN; defaults are IoU and MAE.
    points = T([[[10.0, 12.0]], [[30.0, 20.0]]])
    valid = torch.ones(2, 1, dtype=torch.bool)
    mask = torch.zeros(2, 1, 4, 4)
    mask[:, :, 0, :2] = 1
    logits = torch.full((2, 1, 4, 4), -5.0)
    logits[:, :, 0, 1:3] = 5.0  # I = 1, U = 3
    outputs = {"mask": logits, "heatmap": _perfect_heatmap(points, valid, 48, 4)}
    batch = {"mask": mask, "has_mask": T([True, False]), "electrodes": points, "electrode_valid": valid,
             "has_electrodes": T([True, False])}
    stats = sample_kpi_stats(outputs, batch)
    assert stats["segmentation"][0].tolist() == [2.0, 3.0] and stats["segmentation"][1].isnan().all()
    assert stats["detection"][0, 1].item() == 1 and stats["detection"][0, 0].item() < 1
    assert stats["detection"][1].isnan().all()
