"""type_evaluation by hand: accuracy tables, ground-truth typing, electrode owners, the pipeline."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from cathx.postprocess.type_evaluation import (classify_ground_truth, classify_through_pipeline, electrode_owners,
                                               type_accuracy)


def test_type_accuracy_by_hand():
    table = type_accuracy([("cs", "cs"), ("cs", "quad"), ("lasso", "lasso"), ("cs", "cs")])
    assert table["accuracy"] == 0.75 and table["count"] == 4
    assert table["per_type"] == {"cs": {"count": 3, "accuracy": pytest.approx(2 / 3)},
                                 "lasso": {"count": 1, "accuracy": 1.0}}
    assert list(table["per_type"]) == ["cs", "lasso"]
    assert table["confusion"] == {"cs": {"cs": 2, "quad": 1}, "lasso": {"lasso": 1}}
    assert type_accuracy([]) == {"accuracy": 0.0, "count": 0, "per_type": {}, "confusion": {}}


def _sample(with_sizes: bool = True):
    """A quadripolar catheter along y = 20 (tip at x = 60, its line drawn from x = 10) and a pacing
    lead along y = 50 (two electrodes), on a 64 x 80 frame."""
    quad_line = np.stack([np.arange(10, 61), np.full(51, 20)], 1).astype(np.float64)
    pacing_line = np.stack([np.arange(10, 61), np.full(51, 50)], 1).astype(np.float64)
    electrodes = np.array([[60, 20], [55, 20], [50, 20], [45, 20], [12, 50], [17, 50]], np.float64)
    mask = np.zeros((64, 80), np.uint8)
    for line in (quad_line, pacing_line):
        cv2.polylines(mask, [line.astype(np.int32).reshape(-1, 1, 2)], False, 1, 2)
    return SimpleNamespace(
        electrodes=electrodes, electrode_catheter_ids=np.array([0, 0, 0, 0, 1, 1]),
        catheter_types=["quadripolar", "pacing"], centrelines=[quad_line, pacing_line],
        electrode_sizes=np.full((6, 2), 2.0) if with_sizes else None, mask=mask)


def test_ground_truth_typing_reads_the_electrodes_from_the_tip():
    sample = _sample()
    assert classify_ground_truth(sample) == [("quadripolar", "quadripolar"), ("pacing", "pacing")]
    # a long electrode at the line's far end (x = 60): the arc is measured from there, so it is the tip
    sample.electrode_sizes[0] = (4.0, 4.0)
    assert classify_ground_truth(sample)[0] == ("quadripolar", "ablation")
    assert classify_ground_truth(SimpleNamespace(electrodes=None, electrode_catheter_ids=None)) == []
    assert classify_ground_truth(_sample(with_sizes=False))[0] == ("quadripolar", "quadripolar")


def test_electrode_owners_by_hand():
    sample = _sample()
    owners = electrode_owners(np.array([[60.0, 22.9], [12.0, 53.5], [30.0, 30.0], [17, 50]]), sample)
    assert owners.tolist() == [0, -1, -1, 1] and owners.dtype == np.int64
    assert electrode_owners(np.array([[12.0, 53.5]]), sample, match_px=3.5).tolist() == [1]
    assert electrode_owners(np.zeros((0, 2)), sample).tolist() == []
    assert electrode_owners(np.ones((2, 2)), SimpleNamespace(electrodes=np.zeros((0, 2)),
                                                              electrode_catheter_ids=np.zeros(0))).tolist() == [-1, -1]


def test_pipeline_typing_on_the_true_mask_and_electrodes():
    sample = _sample()
    assert classify_through_pipeline(sample) == [("quadripolar", "quadripolar"), ("pacing", "pacing")]
    assert classify_through_pipeline(_sample(with_sizes=False))[1] == ("pacing", "pacing")
    # no mask where the pacing lead is: no centreline takes its two rings, which make a row of
    # their own (analyse_frame's loose_rows), typed pacing
    mask = sample.mask.copy()
    mask[40:] = 0
    assert classify_through_pipeline(sample, mask=mask) == [("quadripolar", "quadripolar"), ("pacing", "pacing")]
    assert classify_through_pipeline(SimpleNamespace(electrodes=None, electrode_catheter_ids=None)) == []


def test_pipeline_typing_from_predicted_peaks_matches_them_to_the_truth():
    sample = _sample()
    # the quadripolar's four rings found 1 px off, one of the pacing lead's two, and a false peak
    peaks = np.array([[60, 21, 0.9, 2, 2], [55, 21, 0.9, 2, 2], [50, 21, 0.9, 2, 2], [45, 21, 0.9, 2, 2],
                      [12, 51, 0.9, 2, 2], [30, 50, 0.9, 2, 2]], np.float32)
    assert classify_through_pipeline(sample, peaks=peaks) == [("quadripolar", "quadripolar"), ("pacing", "pacing")]

    class Always:
        def decide(self, features):
            return [("lasso", 0.9)] * len(features)

    assert classify_through_pipeline(sample, peaks=peaks, type_classifier=Always()) == [
        ("quadripolar", "lasso"), ("pacing", "lasso")]
    head = np.zeros((5, 4, 4), np.float32)
    head[4] = 1.0  # pacing everywhere
    assert classify_through_pipeline(sample, peaks=peaks, type_probabilities=head) == [
        ("quadripolar", "pacing"), ("pacing", "pacing")]
