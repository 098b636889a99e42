"""The shipped fluoroscopy model: present in the package, small enough for a wheel, loads without
pickle, has a card with the measured figures, and finds catheters on a synthetic frame."""

from __future__ import annotations

import json

import numpy as np

from cathx.checkpoint import read_checkpoint
from cathx.zoo import SHIPPED_MODELS, WEIGHTS_DIR, resolve_weights

FLUORO = WEIGHTS_DIR / SHIPPED_MODELS["cathx-fluoro"]


def test_cathx_fluoro_is_shipped_as_safetensors_with_a_card():
    assert resolve_weights("cathx-fluoro") == FLUORO and FLUORO.is_file()
    assert FLUORO.stat().st_size <= 25 * 1024 * 1024
    assert FLUORO.read_bytes()[8:9] == b"{"  # safetensors header, not a pickle
    card = json.loads(FLUORO.with_suffix(".json").read_text())
    for key in ("architecture", "input_size", "training", "metrics", "latency_ms_p50_end_to_end", "machine",
                "command", "not_validated_on"):
        assert key in card, key
    assert 0.0 < card["metrics"]["mean_j"] <= 1.0 and 0.0 <= card["metrics"]["ap50"] <= 1.0
    assert read_checkpoint("cathx-fluoro")["model_config"]["output_stride"] == 1


def test_cathx_fluoro_types_catheters_with_its_head_and_stored_decision():
    """The shipped decision must fit today's features (it names the ones it reads; the shipped fit
    reads all of them: docs/models.md, "The type decision over 27 inputs"), and every catheter it
    types gets its probability."""
    from cathx.data.synthetic import generate_frame
    from cathx.inference.predictor import Predictor
    from cathx.postprocess.type_classifier import FEATURE_NAMES

    checkpoint = read_checkpoint("cathx-fluoro")
    assert checkpoint["model_config"]["type_head"] is True
    assert checkpoint["extra"]["type_classifier_report"]["held_out_accuracy"] > 0.5
    predictor = Predictor.from_checkpoint("cathx-fluoro")
    assert predictor.type_classifier is not None and predictor.type_classifier.features == FEATURE_NAMES
    results = predictor(generate_frame(827_000, size=256).image)
    assert results.type_probabilities.shape == (5, 32, 32) and results.catheters
    assert all(c.confidence is not None and 0.0 < c.confidence <= 1.0 for c in results.catheters)


def test_cathx_fluoro_finds_a_catheter_and_electrodes_on_a_synthetic_frame():
    import cathx
    from cathx.data.synthetic import generate_frame

    sample = generate_frame(123_456, size=256)
    results = cathx.load("cathx-fluoro").predict(sample.image)
    truth = sample.mask > 0
    predicted = np.asarray(results.mask) > 0
    overlap = (predicted & truth).sum() / max((predicted | truth).sum(), 1)
    assert overlap > 0.3  # a trained model, not random weights (those give ~0)
    assert len(results.electrodes) >= 1


def test_models_command_lists_the_shipped_model(run_cli):
    result = run_cli("models")
    assert result.exit_code == 0
    assert "cathx-fluoro" in result.stdout and "mean J" in result.stdout


def test_cathx_fluoro_mask_survives_a_different_display_curve():
    """Local contrast normalisation of the input (model.input_norm: local): the mask barely changes
    when the display compresses the grey range to a fifth or bends it with a strong gamma. (The
    raw-input model shipped before overlapped itself 0.52 under the compression.)"""
    import cathx
    from cathx.data.synthetic import generate_frame
    from cathx.metrics.segmentation import iou

    model = cathx.load("cathx-fluoro")
    assert read_checkpoint("cathx-fluoro")["model_config"]["input_norm"] == "local"
    curves = {"compressed to 0.4-0.6": lambda x: 0.4 + 0.2 * x, "gamma 0.4": lambda x: x ** 0.4}
    for name, curve in curves.items():
        overlaps = []
        for seed in (123_456, 123_457, 123_458):
            image = generate_frame(seed, size=256).image
            plain = np.asarray(model.predict(image).mask) > 0
            shown = np.asarray(model.predict(curve(image).astype(np.float32)).mask) > 0
            overlaps.append(iou(plain, shown))
        assert np.mean(overlaps) > 0.8, (name, overlaps)
