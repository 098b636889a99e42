"""Fitting the catheter-type head on a frozen network (cathx.training.type_head)."""

from __future__ import annotations

import json

import pytest
import torch

from cathx.checkpoint import load_model
from cathx.errors import CathxError
from cathx.training.type_head import TypeHeadConfig, cell_accuracy, fit_type_head


def test_cell_accuracy_counts_labelled_cells_only():
    logits = torch.zeros(1, 5, 1, 3)
    logits[0, 2, 0, 0] = logits[0, 4, 0, 1] = logits[0, 1, 0, 2] = 1.0  # predicts 2, 4, 1
    assert cell_accuracy(logits, torch.tensor([[[2, 0, -1]]])) == (1, 2)
    assert cell_accuracy(logits, torch.full((1, 1, 3), -1)) == (0, 0)


@pytest.mark.parametrize("field, value, message", [
    ("epochs", 0, "epochs must be at least 1"),
    ("lr", 0.0, "lr must be positive"),
    ("intensity", 1.5, "intensity is a probability"),
])
def test_config_refuses_bad_values(field, value, message):
    with pytest.raises(CathxError, match=message):
        TypeHeadConfig(**{field: value})


def test_fit_trains_only_the_head_and_writes_checkpoints(tiny_checkpoint, tmp_path, one_torch_thread):
    from cathx.data.synthetic import generate_frame

    frames = [generate_frame(seed, size=64) for seed in range(6)]
    before, _ = load_model(tiny_checkpoint)
    best = fit_type_head(tiny_checkpoint, frames[:4], frames[4:], tmp_path / "run",
                         TypeHeadConfig(epochs=2, batch_size=2, threads=1, intensity=0.5), size=64)
    model, cfg = load_model(best)
    assert cfg.type_head and model.type_head is not None
    trained = model.state_dict()
    for key, value in before.state_dict().items():  # every other weight and BN statistic is untouched
        assert torch.equal(trained[key], value), key
    assert (tmp_path / "run" / "last.pt").is_file()
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [0, 1] and history["epochs"][-1]["steps"] == 4
    assert 0.0 <= history["epochs"][-1]["val_cell_accuracy"] <= 1.0
    with torch.inference_mode():
        assert model(torch.rand(1, 1, 64, 64))["type"].shape == (1, 5, 8, 8)
    # continuing from the result keeps its head (not a fresh one)
    again = fit_type_head(best, frames[:4], frames[4:], tmp_path / "again",
                          TypeHeadConfig(epochs=1, batch_size=4, threads=1, lr=1e-9), size=64)
    head_before = {k: v for k, v in trained.items() if k.startswith("type_head.")}
    head_after = {k: v for k, v in load_model(again)[0].state_dict().items() if k.startswith("type_head.")}
    assert all(torch.allclose(head_before[k], head_after[k], atol=1e-6) for k in head_before)


def test_fit_refuses_too_few_frames(tiny_checkpoint, tmp_path):
    from cathx.data.synthetic import generate_frame

    frames = [generate_frame(0, size=64)]
    with pytest.raises(CathxError, match="fewer than one batch"):
        fit_type_head(tiny_checkpoint, frames, frames, tmp_path, TypeHeadConfig(batch_size=2, threads=1), size=64)


def _truth_runner(samples):
    """A stand-in network that outputs each sample's true mask and electrodes (stride 1)."""
    import numpy as np

    queue = list(samples)

    def run(batch):
        sample = queue.pop(0)
        height, width = sample.image.shape
        mask = np.where(sample.mask > 0, 10.0, -10.0).astype(np.float32)
        heatmap = np.full((height, width), -10.0, np.float32)
        size = np.zeros((2, height, width), np.float32)
        for (x, y), (w, h) in zip(sample.electrodes, sample.electrode_sizes):
            col, row = int(np.clip(round(x), 0, width - 1)), int(np.clip(round(y), 0, height - 1))
            heatmap[row, col] = 10.0
            size[:, row, col] = (w, h)
        return {"mask": mask[None, None], "heatmap": heatmap[None, None], "size": size[None]}

    return run


def test_examples_from_true_outputs_carry_true_types_and_fit_a_classifier():
    import numpy as np

    from cathx.data.synthetic import generate_frame
    from cathx.inference.predictor import Predictor
    from cathx.structures import TYPE_HEAD_CLASSES
    from cathx.training.type_head import catheter_examples, classifier_accuracy, fit_type_classifier

    samples = [generate_frame(seed, size=128) for seed in range(12)]
    predictor = Predictor(_truth_runner(samples), input_size=128, stride=1)
    features, labels = catheter_examples(predictor, samples)
    total = sum(len(s.catheter_types) for s in samples)
    assert 0.7 * total <= len(labels) <= total  # catheters found on the true mask, a few merged
    counts = np.round(features[:, 0] * 10).astype(int)
    # true electrodes: every CS catheter found shows about its 10 rings, every pacing one 1-2
    assert np.median(counts[labels == TYPE_HEAD_CLASSES.index("cs_decapolar")]) == 10
    assert counts[labels == TYPE_HEAD_CLASSES.index("pacing")].max() <= 2
    classifier = fit_type_classifier(features, labels, hidden=8, steps=300)
    assert classifier_accuracy(classifier, features, labels) >= 0.9  # separable on true electrodes
    with pytest.raises(CathxError, match="need more frames"):
        fit_type_classifier(features[:1], labels[:1])
    subset = fit_type_classifier(features, labels, hidden=8, steps=300, names=("count", "closed", "length"))
    assert subset.features == ("count", "closed", "length") and subset.w1.shape == (3, 8)
    assert subset.probabilities(features).shape == (len(labels), 5)  # reads its 3 of the table's columns
    with pytest.raises(CathxError, match="unknown features \\['colour'\\]; choose from count, no_electrodes"):
        fit_type_classifier(features, labels, names=("count", "colour"))


def test_head_accuracy_reads_the_head_columns():
    import numpy as np

    from cathx.postprocess.type_classifier import FEATURE_NAMES
    from cathx.training.type_head import head_accuracy

    features = np.zeros((2, len(FEATURE_NAMES)), np.float32)
    features[0, FEATURE_NAMES.index("head_lasso")] = 0.9
    features[1, FEATURE_NAMES.index("head_pacing")] = 0.8
    features[:, 0] = 5.0  # a large non-head feature must not count
    assert head_accuracy(features, np.array([3, 3])) == 0.5
    assert head_accuracy(features[:0], np.zeros(0, np.int64)) is None


def test_attach_type_classifier_keeps_a_safetensors_file_safetensors(tmp_path):
    from dataclasses import replace

    from postprocess.test_type_classifier import _classifier

    from cathx.checkpoint import read_checkpoint, save_safetensors
    from cathx.models import build_model, model_profile
    from cathx.training.type_head import attach_type_classifier

    cfg = replace(model_profile("demo", latent_channels=16, decoder_channels=(8, 8), head_channels=8), type_head=True)
    path = save_safetensors(tmp_path / "typed.safetensors", build_model(cfg), cfg, extra={"input_size": 64, "name": "x"})
    attach_type_classifier(path, _classifier(), {"held_out_accuracy": 0.5})
    assert path.read_bytes()[8:9] == b"{"  # a safetensors header, not a zip/pickle
    extra = read_checkpoint(path)["extra"]
    assert extra["name"] == "x" and extra["type_classifier_report"] == {"held_out_accuracy": 0.5}
    assert extra["type_classifier"]["w2"] == _classifier().to_dict()["w2"]
