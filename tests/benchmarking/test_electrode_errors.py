"""The pure parts of benchmarks/electrode_errors.py, on hand-placed electrodes."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "electrode_errors.py"
spec = importlib.util.spec_from_file_location("electrode_errors", SCRIPT)
electrode_errors = importlib.util.module_from_spec(spec)
spec.loader.exec_module(electrode_errors)

POINTS = np.array([[10.0, 10.0], [30.0, 10.0]])
SIZES = np.array([[3.0, 3.0], [4.0, 5.0]])
# [x, y, score, w, h]: one near each electrode (0.5 px and 1 px off), one far from both
DETECTIONS = np.array([[10.5, 10.0, 0.9, 3.5, 3.5],
                       [30.0, 11.0, 0.8, 4.0, 4.0],
                       [60.0, 60.0, 0.7, 3.0, 3.0]])


def test_matched_detections_take_the_true_centre_or_size_and_keep_their_scores():
    centre = electrode_errors.with_truth(DETECTIONS, POINTS, SIZES, centre=True, size=False, max_distance=3.0)
    np.testing.assert_allclose(centre[:, :2], [[10, 10], [30, 10], [60, 60]])
    np.testing.assert_allclose(centre[:, 2:], DETECTIONS[:, 2:])
    size = electrode_errors.with_truth(DETECTIONS, POINTS, SIZES, centre=False, size=True, max_distance=3.0)
    np.testing.assert_allclose(size[:, 3:], [[3, 3], [4, 5], [3, 3]])
    np.testing.assert_allclose(size[:, :3], DETECTIONS[:, :3])
    # beyond the match radius nothing changes (the 1-px detection is out of a 0.8-px radius)
    near = electrode_errors.with_truth(DETECTIONS, POINTS, SIZES, centre=True, size=True, max_distance=0.8)
    np.testing.assert_allclose(near[1], DETECTIONS[1])
    np.testing.assert_allclose(near[0], [10, 10, 0.9, 3, 3])


def test_swapping_in_the_truth_gives_perfect_ap_when_every_electrode_is_found_first():
    from cathx.metrics.detection import coco_ap

    targets = [(POINTS, SIZES)]
    both = electrode_errors.with_truth(DETECTIONS, POINTS, SIZES, centre=True, size=True, max_distance=3.0)
    assert coco_ap(targets, [both])["ap"] == pytest.approx(1.0)  # the false one scores below both true ones
    # as detected, the first box (3.5 px, 0.5 px off) shares 2.75 x 3 = 8.25 px with its electrode's:
    # IoU 8.25 / (12.25 + 9 - 8.25) = 0.635, a miss at the IoU thresholds from 0.65 up
    assert coco_ap(targets, [DETECTIONS])["ap"] < 1.0


def test_matched_errors_measure_distance_bias_and_size_ratio():
    errors = electrode_errors.matched_errors([DETECTIONS], [(POINTS, SIZES)], min_score=0.3, max_distance=3.0)
    assert errors["matched"] == 2
    assert errors["median_px"] == pytest.approx(0.75)  # distances 0.5 and 1.0
    assert errors["bias_x_px"] == pytest.approx(0.25)  # +0.5 and 0
    assert errors["bias_y_px"] == pytest.approx(0.5)  # 0 and +1
    assert errors["width_ratio_median"] == pytest.approx((3.5 / 3 + 4 / 4) / 2)
    assert errors["height_ratio_median"] == pytest.approx((3.5 / 3 + 4 / 5) / 2)
    # a score threshold above every detection leaves nothing matched
    assert electrode_errors.matched_errors([DETECTIONS], [(POINTS, SIZES)], 0.95, 3.0) == {"matched": 0}


def test_recall_by_nearest_neighbour_sorts_electrodes_by_their_spacing():
    # a close pair (1.5 px apart, one found), a pair 2.5 px apart (both found), one alone (missed)
    points = np.array([[10.0, 10.0], [11.5, 10.0], [40.0, 40.0], [42.5, 40.0], [80.0, 80.0]])
    found = np.array([[10.2, 10.0, 0.9, 3, 3], [40.0, 40.3, 0.8, 3, 3], [42.4, 40.0, 0.1, 3, 3]])
    rows = electrode_errors.recall_by_neighbour([found], [(points, np.full((5, 2), 3.0))], 1.0, bins=(0.0, 2.0, 3.0))
    assert [(r["from"], r["to"], r["electrodes"]) for r in rows] == [(0.0, 2.0, 2), (2.0, 3.0, 2), (3.0, None, 1)]
    assert [r["recall"] for r in rows] == [0.5, 1.0, 0.0]  # any score counts; one detection per electrode
