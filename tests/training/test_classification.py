"""Chest classification training: AUC on hand-computed cases, losses, a tiny Lightning run, Grad-CAM."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from cathx.config import from_dict
from cathx.data.chest.ranzcr import LABELS
from cathx.training.classification import (
    ClsTrainConfig, columnwise_auc, grad_cam, load_classifier, roc_auc, segmentation_loss, train_classifier,
)

@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on a shared 2-core machine more threads only contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)



def test_roc_auc_hand_cases():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.2, 0.9]) == 1.0
    assert roc_auc([0, 1], [0.9, 0.2]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert roc_auc([0, 0, 1], [0.3, 0.7, 0.7]) == pytest.approx(0.75)  # tie counts one half
    assert math.isnan(roc_auc([1, 1], [0.1, 0.2]))


def test_columnwise_auc_skips_single_class_labels():
    labels = np.zeros((4, 11), np.float32)
    labels[:, 0] = [0, 0, 1, 1]
    labels[:, 1] = [0, 1, 0, 1]
    probs = np.zeros_like(labels)
    probs[:, 0] = [0.1, 0.2, 0.8, 0.9]
    probs[:, 1] = [0.9, 0.1, 0.05, 0.2]
    mean, per_label = columnwise_auc(labels, probs)
    assert per_label[LABELS[0]] == 1.0 and per_label[LABELS[1]] == 0.5
    assert all(per_label[n] is None for n in LABELS[2:])
    assert mean == pytest.approx(0.75)


def test_segmentation_loss_only_on_annotated():
    logits = torch.zeros(2, 4, 4, 4, requires_grad=True)
    target = torch.zeros(2, 4, 16, 16)
    assert segmentation_loss(logits, target, torch.tensor([False, False])).item() == 0.0
    target[0, 1, 5, 5] = 1  # one thin line pixel survives the max-pool to 4x4
    loss = segmentation_loss(logits, target, torch.tensor([True, False]))
    loss.backward()
    assert loss.item() > 0 and logits.grad[1].abs().sum() == 0


def test_tiny_training_run_writes_weights_and_report(tmp_path):
    cfg = from_dict(ClsTrainConfig, {
        "model": {"kind": "seg_aided", "backbone": "rexnet_100", "backbone_args": {"width_mult": 0.5}},
        "data": {"synth_n": 16, "synth_size": 64, "image_size": 32, "batch_size": 8, "folds": 2},
        "epochs": 1, "threads": 1})
    summary = train_classifier(cfg, tmp_path)
    assert (tmp_path / "classifier.pt").is_file() and (tmp_path / "checkpoints" / "last.ckpt").is_file()
    report = json.loads((tmp_path / "val" / "metrics.json").read_text())
    assert report["studies"] == summary["studies"] > 0
    assert set(report["per_label_auc"]) == set(LABELS)
    assert "| **mean (column-wise)** |" in (tmp_path / "val" / "metrics.md").read_text()
    assert list((tmp_path / "logs").rglob("metrics.csv"))
    model, model_cfg, size = load_classifier(tmp_path / "classifier.pt")
    assert size == 32 and model_cfg.kind == "seg_aided"
    cam = grad_cam(model, torch.rand(1, 1, 32, 32), 2)
    assert cam.shape == (32, 32) and 0.0 <= cam.min() and cam.max() <= 1.0
    again, _, _ = load_classifier(tmp_path / "checkpoints" / "last.ckpt")
    assert set(again.state_dict()) == set(model.state_dict())
