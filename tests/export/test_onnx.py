from __future__ import annotations

import numpy as np
import onnx
import torch

from cathx.checkpoint import load_model
from cathx.export.onnx import export_checkpoint, export_onnx, run_onnx
from cathx.inference.predictor import Predictor


def test_onnx_matches_pytorch_with_dynamic_batch(tiny_checkpoint, tmp_path):
    model, _ = load_model(tiny_checkpoint)
    path = tmp_path / "tiny.onnx"
    names = export_onnx(model, path, input_size=64)
    assert names == ("mask", "heatmap", "size")
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version >= 17
    assert {node.domain for node in proto.graph.node} <= {"", "ai.onnx"}
    assert {p.key: p.value for p in proto.metadata_props}["input_size"] == "64"
    batch = np.random.default_rng(0).random((3, 1, 64, 64)).astype(np.float32)
    ort_out = run_onnx(path, batch)
    with torch.inference_mode():
        reference = model(torch.from_numpy(batch))
    for name in names:
        torch.testing.assert_close(torch.from_numpy(ort_out[name]), reference[name], atol=1e-4, rtol=1e-3)


def test_export_checkpoint_reports_deviation_and_predictor_agrees(tiny_checkpoint, tmp_path):
    report = export_checkpoint(tiny_checkpoint, tmp_path / "m.onnx", input_size=64, fp16=True, verify_frames=1)
    kinds = [v["kind"] for v in report["variants"]]
    assert kinds == ["fp32", "fp16"]
    assert max(report["variants"][0]["max_abs_diff"].values()) < 1e-3
    image = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    torch_results = Predictor.from_checkpoint(tiny_checkpoint, peak_threshold=0.0, precision="fp32")(image)
    onnx_results = Predictor.from_checkpoint(tmp_path / "m.onnx", backend="onnx", peak_threshold=0.0)(image)
    assert onnx_results.image_size == torch_results.image_size
    assert np.mean(onnx_results.mask == torch_results.mask) > 0.99
    np.testing.assert_allclose(onnx_results.electrodes[:5], torch_results.electrodes[:5], atol=0.5)


def test_type_head_exports_and_types_catheters_through_onnx(tmp_path):
    from dataclasses import replace

    from cathx.checkpoint import save_checkpoint
    from cathx.models import build_model, model_profile

    torch.manual_seed(0)
    cfg = replace(model_profile("demo", latent_channels=16, decoder_channels=(8, 8), head_channels=8), type_head=True)
    weights = save_checkpoint(tmp_path / "typed.pt", build_model(cfg), cfg, extra={"input_size": 64})
    from postprocess.test_type_classifier import _classifier

    from cathx.training.type_head import attach_type_classifier

    attach_type_classifier(weights, _classifier(), {"note": "random"})
    report = export_checkpoint(weights, tmp_path / "typed.onnx", input_size=64, verify_frames=1)
    assert "type" in report["variants"][0]["max_abs_diff"]
    image = np.random.default_rng(2).random((64, 64)).astype(np.float32)
    for predictor in (Predictor.from_checkpoint(weights),
                      Predictor.from_checkpoint(tmp_path / "typed.onnx", backend="onnx")):
        results = predictor(image)
        assert predictor.type_classifier is not None  # the learned decision travels in the metadata
        np.testing.assert_allclose(predictor.type_classifier.w2, _classifier().w2, atol=1e-5)
        assert results.type_probabilities.shape == (5, 8, 8)
        np.testing.assert_allclose(results.type_probabilities.sum(axis=0), 1.0, rtol=1e-5)
