"""Chest classifier training: a tiny Lightning run end to end, and predict_arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cathx.checkpoint import load_classifier, read_classifier
from cathx.config import from_dict
from cathx.data.chest.ranzcr import LABELS
from cathx.inference.chest import grad_cam
from cathx.models.classifier import ClassifierConfig, build_classifier
from cathx.training.chest import predict_arrays, train_classifier
from cathx.training.chest_config import ClsTrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_tiny_training_run_writes_weights_and_report(tmp_path):
    cfg = from_dict(ClsTrainConfig, {
        "model": {"kind": "seg_aided", "backbone": "rexnet_100", "backbone_args": {"width_mult": 0.5}},
        "data": {"synth_n": 16, "synth_size": 64, "image_size": 32, "batch_size": 8, "folds": 2},
        "epochs": 1, "threads": 1})
    summary = train_classifier(cfg, tmp_path)
    weights = tmp_path / "classifier.safetensors"
    assert weights.is_file() and (tmp_path / "checkpoints" / "last.ckpt").is_file()
    assert not (tmp_path / "classifier.pt").exists() and summary["weights"] == str(weights)
    report = json.loads((tmp_path / "val" / "metrics.json").read_text())
    assert report["studies"] == summary["studies"] > 0
    assert set(report["per_label_auc"]) == set(LABELS)
    assert "| **mean (column-wise)** |" in (tmp_path / "val" / "metrics.md").read_text()
    assert list((tmp_path / "logs").rglob("metrics.csv"))
    record = read_classifier(weights)
    assert record["format"] == "cathx-chest-classifier" and record["image_size"] == 32
    assert record["extra"]["fold"] == 0 and record["extra"]["train_config"]["epochs"] == 1
    # classifier.json: the same record as the header, without the tensors
    card = json.loads((tmp_path / "classifier.json").read_text())
    assert card["model_config"] == record["model_config"] and card["extra"] == record["extra"]
    assert card["image_size"] == 32 and card["labels"] == list(LABELS) and card["version"] == 1
    model, model_cfg, size = load_classifier(weights)
    assert size == 32 and model_cfg.kind == "seg_aided"
    cam = grad_cam(model, torch.rand(1, 1, 32, 32), 2)
    assert cam.shape == (32, 32) and 0.0 <= cam.min() and cam.max() <= 1.0
    # classifier.safetensors holds the best checkpoint's weights
    best, _, _ = load_classifier(tmp_path / "checkpoints" / "best.ckpt")
    assert all(torch.equal(best.state_dict()[k], v) for k, v in model.state_dict().items())


def test_predict_arrays_reads_uint8_as_float_over_255_in_batches():
    torch.manual_seed(0)
    model = build_classifier(ClassifierConfig(kind="single", backbone="rexnet_100",
                                              backbone_args={"width_mult": 0.5})).eval()
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32), dtype=np.uint8)
    probs = predict_arrays(model, images, batch_size=2)
    assert probs.shape == (5, 11)
    np.testing.assert_allclose(predict_arrays(model, images.astype(np.float32) / 255), probs, atol=1e-6)
    with torch.no_grad():
        direct = torch.sigmoid(model(torch.from_numpy(images[3:4].astype(np.float32) / 255)[:, None])["logits"])
    np.testing.assert_allclose(probs[3], direct[0].numpy(), atol=1e-6)
    assert predict_arrays(model, images[:0]).shape == (0, 11)


def test_template_first_trains_a_template_part_then_starts_from_it(tmp_path):
    cfg = from_dict(ClsTrainConfig, {
        "model": {"kind": "seg_aided", "backbone": "rexnet_100", "backbone_args": {"width_mult": 0.5}},
        "data": {"synth_n": 16, "synth_size": 64, "image_size": 32, "batch_size": 8, "folds": 2},
        "epochs": 1, "threads": 1, "template_first": {"epochs": 1, "lr": 0.01}})
    summary = train_classifier(cfg, tmp_path)
    first = tmp_path / "template_first"
    first_record = read_classifier(first / "classifier.safetensors")
    assert first_record["extra"]["train_config"]["data"]["synth"]["anatomy_variety"] == 0.0
    assert first_record["extra"]["train_config"]["lr"] == 0.01
    assert "init" not in first_record["extra"]
    # the studies of the two parts: same scenes, the second drawn with the variety
    assert (first / "synthetic" / "train.csv").read_text() == (tmp_path / "synthetic" / "train.csv").read_text()
    record = read_classifier(tmp_path / "classifier.safetensors")
    assert record["extra"]["init"] == str(first / "classifier.safetensors")
    assert summary["template_first"]["epochs_run"] >= 1 and summary["template_first"]["weights"] == str(
        first / "classifier.safetensors")
