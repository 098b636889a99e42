"""ONNX export and the Predictor at output strides 1 and 2, with a model whose mask is not empty
(the shared tiny checkpoint predicts one class everywhere, so mask equality alone proves nothing)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from cathx.checkpoint import save_checkpoint
from cathx.export.onnx import export_onnx
from cathx.inference.predictor import Predictor
from cathx.models import build_model, model_profile

SIZE = 64


@pytest.fixture(scope="module", params=[1, 2])
def strided(request, tmp_path_factory):
    """(stride, checkpoint, onnx path, image) for a tiny CathMTL at that output stride, its mask
    head rescaled so that about half of the pixels of ``image`` are catheter."""
    stride = request.param
    torch.manual_seed(0)
    cfg = model_profile("demo", latent_channels=32, decoder_channels=(16, 16), head_channels=8,
                        output_stride=stride, fine_channels=8)
    model = build_model(cfg).eval()
    image = np.random.default_rng(1).random((SIZE, SIZE)).astype(np.float32)
    with torch.no_grad():  # random mask logits are nearly constant: spread them around zero
        out = model.heads.mask.out
        out.weight.mul_(2000.0)
        out.bias.mul_(2000.0)
        out.bias.sub_(model(torch.from_numpy(image)[None, None])["mask"].median())
    folder = tmp_path_factory.mktemp(f"stride{stride}")
    checkpoint = save_checkpoint(folder / "model.pt", model, cfg, extra={"input_size": SIZE})
    path = folder / "model.onnx"
    export_onnx(model, path, input_size=SIZE)
    return stride, checkpoint, path, image


def test_onnx_metadata_records_the_model_stride(strided):
    stride, _, path, _ = strided
    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert metadata["output_stride"] == str(stride) and metadata["input_size"] == str(SIZE)
    assert Predictor.from_checkpoint(path, backend="onnx").stride == stride


def test_onnx_predictor_agrees_with_torch_on_mask_and_electrodes(strided):
    stride, checkpoint, path, image = strided
    torch_results = Predictor.from_checkpoint(checkpoint, peak_threshold=0.0, precision="fp32")(image)
    onnx_results = Predictor.from_checkpoint(path, backend="onnx", peak_threshold=0.0)(image)
    assert 0.2 < torch_results.mask.mean() < 0.8  # a mask with both classes
    assert np.mean(onnx_results.mask == torch_results.mask) > 0.99
    assert len(torch_results.electrodes) >= 5
    np.testing.assert_allclose(onnx_results.electrodes[:5], torch_results.electrodes[:5], atol=0.5)
