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


def test_kpi_from_stats_ratio_edge_cases_hand_computed():
    from cathx.metrics.kpi import kpi_from_stats as f

    # den = 0: nothing to measure, r = 0 whatever num says -> MAE KPI 1 (not num / 1e-12)
    assert f(T([[3.0, 0.0]]), "mae").tolist() == [1.0]
    # den 0.5 is a real denominator: r = 1 / 0.5 = 2 -> 1 / (1 + 2 / 2) = 0.5
    assert f(T([[1.0, 0.5]]), "mae").tolist() == pytest.approx([0.5])
    # a NaN in either column is an unlabelled row
    assert [math.isnan(v) for v in f(T([[math.nan, 1.0], [1.0, math.nan]]), "mae").tolist()] == [True, True]
    # RMSE with tau 4: sqrt(36 / 4) = 3 -> 1 / (1 + 3 / 4) = 4/7
    assert f(T([[36.0, 4.0]]), "rmse", tau=4.0).tolist() == pytest.approx([4 / 7])
    # loss-based: exp(-0.5) = 0.6065 (a loss below 1 is not raised to 1)
    assert f(T([[0.5, 1.0]]), "loss").tolist() == pytest.approx([math.exp(-0.5)])


def _spiky_heatmap(true_cells, spurious_cells, cells=32):
    # stride-4 logits: -10 background, 3 at the true electrodes' cells, 2 (p = 0.88) at the spurious ones
    heatmap = torch.full((1, 1, cells, cells), -10.0)
    for row, col in true_cells:
        heatmap[0, 0, row, col] = 3.0
    for row, col in spurious_cells:
        heatmap[0, 0, row, col] = 2.0
    return heatmap


def test_detection_kpi_decodes_twice_as_many_peaks_as_electrodes():
    from cathx.metrics.kpi import detection_kpi

    # 9 electrodes at cell centres (4c + 1.5 px, cells 1, 4, 7 off the border) and 30 isolated
    # spurious peaks, all scored below the
    # true ones: k = max(2 * 9, 16) = 18 keeps the 9 true peaks (error 0) and 9 spurious ones at the
    # cap 10: sum 90 over 18 terms, MAE 5 -> kappa 1 / (1 + 5 / 2) = 2/7. (k = 16 would give 70 / 16,
    # k = 27 180 / 27, k = 64 all 30: 300 / 39.)
    true_cells = [(1 + 3 * r, 1 + 3 * c) for r in range(3) for c in range(3)]
    spurious = [(r, c) for r in range(10, 32, 2) for c in range(1, 32, 4)][:30]
    heatmap = _spiky_heatmap(true_cells, spurious)
    points = T([[[4 * c + 1.5, 4 * r + 1.5] for r, c in true_cells]])
    valid = torch.ones(1, 9, dtype=torch.bool)
    assert detection_kpi_stats(heatmap, None, points, valid).tolist() == [[90.0, 18.0]]
    assert detection_kpi(heatmap, None, points, valid).tolist() == pytest.approx([2 / 7])
    # One electrode: k = 16 (not 17): 1 true + 15 spurious -> 150 / 16
    one = _spiky_heatmap([(1, 1)], spurious)
    assert detection_kpi_stats(one, None, T([[[5.5, 5.5]]]), valid[:, :1]).tolist() == [[150.0, 16.0]]


def test_detection_kpi_passes_cap_tau_threshold_and_reads_logits():
    from cathx.metrics.kpi import detection_kpi

    valid = torch.ones(1, 1, dtype=torch.bool)
    # one spike 3 px right of the electrode (stride 1, found at x = 23): error 3
    heatmap = _perfect_heatmap(T([[[23.0, 20.0]]]), valid, 48, 1)
    truth = T([[[20.0, 20.0]]])
    # tau 3: 1 / (1 + 3 / 3) = 0.5
    assert detection_kpi(heatmap, None, truth, valid, tau=3.0, stride=1).tolist() == pytest.approx([0.5])
    # cap 2 < 3 px: a miss and a spurious term, error 2 -> 1 / (1 + 2 / 2) = 0.5
    assert detection_kpi(heatmap, None, truth, valid, cap=2.0, stride=1).tolist() == pytest.approx([0.5])
    # the spike's probability is 1 - 1e-6: a threshold above it finds nothing, error = cap 10 -> 1/6
    assert detection_kpi(heatmap, None, truth, valid, score_threshold=1.0, stride=1).tolist() == pytest.approx([1 / 6])
    # logits even when every value lies in [0, 1]: a 0.5 logit is p = 0.62 >= 0.6 on a background of
    # logit 0 (p = 0.5 < 0.6): found exactly at the electrode (read as probabilities nothing passes 0.6)
    flat = torch.zeros(1, 1, 8, 8)
    flat[0, 0, 2, 2] = 0.5
    assert detection_kpi(flat, None, T([[[9.5, 9.5]]]), valid, score_threshold=0.6).tolist() == pytest.approx([1.0])
    with pytest.raises(ValueError, match="^unknown detection KPI 'ap'; choose from mae, rmse$"):
        detection_kpi(flat, None, truth, valid, kind="ap")


def test_sample_kpis_without_an_image_read_stride_4_and_pass_the_threshold():
    # heatmap spike at cell (2, 2): stride 4 puts it at (9.5, 9.5), exactly on the electrode (KPI 1);
    # stride 5 would put it at (12, 12), 3.5 px away.
    heatmap = torch.full((1, 1, 8, 8), -10.0)
    heatmap[0, 0, 2, 2] = 1.0  # p = 0.731
    batch = {"electrodes": T([[[9.5, 9.5]]]), "electrode_valid": T([[True]]), "has_electrodes": T([True])}
    assert sample_kpis({"heatmap": heatmap}, batch)["detection"].tolist() == pytest.approx([1.0])
    assert sample_kpi_stats({"heatmap": heatmap}, batch)["detection"].tolist() == [[0.0, 1.0]]
    # threshold 0.8 > 0.731: nothing found, one miss at the cap 10 -> 1/6 and stats (10, 1)
    assert sample_kpis({"heatmap": heatmap}, batch, score_threshold=0.8)["detection"].tolist() == pytest.approx([1 / 6])
    assert sample_kpi_stats({"heatmap": heatmap}, batch, score_threshold=0.8)["detection"].tolist() == [[10.0, 1.0]]


def test_rmse_kpi_of_an_error_below_one_pixel():
    # a squared error of 0.25 px^2 over one term: RMSE 0.5 px, KPI 1 / (1 + 0.5 / 2) = 0.8
    assert kpi_from_stats(T([[0.25, 1.0]]), "rmse", tau=2.0).tolist() == pytest.approx([0.8])


def test_segmentation_kpi_stats_threshold_and_unknown_kind():
    logits = torch.full((1, 1, 2, 2), -3.0)
    logits[0, 0, 0, 0] = 0.5  # probability 0.62: foreground
    mask = torch.zeros((1, 1, 2, 2))
    mask[0, 0, 0, 0] = 1.0
    assert segmentation_kpi_stats(logits, mask).tolist() == [[0.0, 1.0]]  # union - intersection, union
    with pytest.raises(ValueError, match=r"^unknown segmentation KPI 'jaccard'; choose from iou, dice$"):
        segmentation_kpi_stats(logits, mask, "jaccard")


def test_sample_kpis_pass_tau():
    # nothing found above 0.8: one miss at the cap 10; tau 5 -> 1 / (1 + 10 / 5) = 1/3 (tau 2: 1/6)
    heatmap = torch.full((1, 1, 8, 8), -10.0)
    batch = {"electrodes": T([[[9.5, 9.5]]]), "electrode_valid": T([[True]]), "has_electrodes": T([True])}
    kpis = sample_kpis({"heatmap": heatmap}, batch, tau=5.0, score_threshold=0.8)
    assert kpis["detection"].tolist() == pytest.approx([1 / 3])
