"""The pure parts of benchmarks/mask_errors.py, on a hand-drawn 12 x 12 frame."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mask_errors.py"
spec = importlib.util.spec_from_file_location("mask_errors", SCRIPT)
mask_errors = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mask_errors)


def test_every_predicted_and_true_pixel_gets_one_class():
    truth = np.zeros((12, 12), bool)
    truth[2:10, 5] = True  # a catheter: column 5, rows 2-9 (8 px)
    pred = np.zeros_like(truth)
    pred[2:8, 5] = True  # 6 found, rows 8-9 missed
    pred[2:8, 6] = True  # 6 px one column off: within 2 px of the catheter
    pred[0, 0] = True  # a lone pixel far from everything: elsewhere
    device = np.zeros((12, 12), np.float32)
    device[5, 10] = 0.5  # an unlabelled device pixel (dilated by 1 px: rows 4-6, columns 9-11)
    pred[4, 11] = pred[6, 10] = True  # two false positives on the device, far from the catheter
    classes = mask_errors.error_classes(pred, truth, device)
    counts = {name: int(classes[name].sum()) for name in mask_errors.CLASSES}
    assert counts == {"true_positive": 6, "false_negative": 2, "fp_catheter_boundary": 6,
                      "fp_unlabelled_device": 2, "fp_elsewhere": 1}
    # J = 6 / (6 + 2 + 6 + 2 + 1) = 6 / 17; the device pixels ignored: 6 / 15
    assert mask_errors.jaccard(classes) == pytest.approx(6 / 17)
    assert mask_errors.jaccard(classes, ignore_devices=True) == pytest.approx(6 / 15)


def test_an_empty_frame_predicted_empty_scores_one():
    empty = np.zeros((8, 8), bool)
    classes = mask_errors.error_classes(empty, empty, np.zeros((8, 8), np.float32))
    assert mask_errors.jaccard(classes) == 1.0
