from __future__ import annotations

import numpy as np
import pytest

from cathx.errors import DataError
from cathx.inference.predictor import Predictor, prepare_input, to_unit_grey


def test_unit_grey_conversions():
    assert to_unit_grey(np.full((40, 40), 255, np.uint8)).max() == pytest.approx(1.0)
    twelve_bit = np.full((40, 40), 4095, np.uint16)
    twelve_bit[0, 0] = 0
    assert to_unit_grey(twelve_bit).max() == pytest.approx(4095 / 65535)  # the container's range
    assert to_unit_grey(twelve_bit, bits_stored=12).max() == pytest.approx(1.0)  # declared 12 bits
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[..., 1] = 200
    assert to_unit_grey(rgb)[0, 0] == pytest.approx(0.587 * 200 / 255, abs=0.01)
    floats = np.full((40, 40), 3.0, np.float32) * np.arange(40)  # 0..117: an 8-bit range kept as float
    assert to_unit_grey(floats).max() == pytest.approx(117 / 255)


@pytest.mark.parametrize(("shape", "message"), [((8, 8), "8x8 px"), ((40, 40, 5), "shape"), ((20000, 40), "largest")])
def test_bad_images_are_refused_with_a_message(shape, message):
    with pytest.raises(DataError, match=message):
        to_unit_grey(np.zeros(shape, np.uint8), "frame.png")


def test_huge_image_is_resized_in_its_own_dtype():
    image = np.zeros((8000, 8000), np.uint8)
    image[4000:4010] = 255
    small, shape = prepare_input(image, 64)
    assert shape == (8000, 8000) and small.shape == (64, 64) and small.dtype == np.float32
    assert 0 < small.max() <= 1


class FakeRunner:
    """Mask: a horizontal line at input row 20; heatmap: one peak at cell (row 5, col 7)."""

    def __call__(self, batch):
        b, _, s, _ = batch.shape
        mask = np.full((b, 1, s, s), -10.0, np.float32)
        mask[:, :, 19:22, 4:60] = 10.0
        heat = np.full((b, 1, s // 4, s // 4), -10.0, np.float32)
        heat[:, :, 5, 7] = 5.0
        size = np.full((b, 2, s // 4, s // 4), 3.0, np.float32)
        return {"mask": mask, "heatmap": heat, "size": size}


def test_predictor_maps_back_to_original_pixels():
    predictor = Predictor(FakeRunner(), input_size=64, stride=4)
    results = predictor(np.zeros((128, 256), np.uint8), {"name": "x"})
    assert results.image_size == (128, 256)
    assert results.mask.shape == (128, 256) and results.mask[41, 100] == 1 and results.mask[10, 100] == 0
    x64, y64 = 7 * 4 + 1.5, 5 * 4 + 1.5  # cell centre in input pixels
    assert results.electrodes[0, 0] == pytest.approx((x64 + 0.5) * 4 - 0.5, abs=0.01)
    assert results.electrodes[0, 1] == pytest.approx((y64 + 0.5) * 2 - 0.5, abs=0.01)
    assert results.sizes[0].tolist() == pytest.approx([12.0, 6.0])
    assert len(results.catheters) == 1
    assert np.median(results.catheters[0].centreline[:, 1]) == pytest.approx(41.5, abs=1.5)
    assert set(results.meta["timings_ms"]) == {"preprocess", "network", "postprocess"}


def test_stream_batches_and_keeps_meta():
    predictor = Predictor(FakeRunner(), input_size=64)
    frames = (np.zeros((64, 64), np.uint8) for _ in range(5))
    out = list(predictor.stream(frames, batch_size=2))
    assert len(out) == 5


def test_from_checkpoint_runs_a_real_model(tiny_checkpoint):
    predictor = Predictor.from_checkpoint(tiny_checkpoint, peak_threshold=0.0)
    assert predictor.input_size == 64 and predictor.backend == "torch"
    results = predictor(np.random.default_rng(0).random((80, 96)).astype(np.float32))
    assert results.mask.shape == (80, 96)
    assert len(results.electrodes) > 0
    assert np.all((results.electrodes >= -1) & (results.electrodes <= 96))


@pytest.mark.parametrize(("k", "threshold"), [(10, 0.3), (3, 0.3), (400, 0.3), (400, 0.05), (10, 0.99), (400, 0.0)])
def test_numpy_peak_decoding_matches_the_torch_codec(k, threshold):
    import torch

    from cathx.heatmap import decode_peaks
    from cathx.inference.predictor import decode_electrodes

    rng = np.random.default_rng(3)
    heat = rng.normal(-3, 2, (2, 1, 16, 20)).astype(np.float32)
    heat[0, 0, 0, 5] = 6.0  # a peak on the border
    heat[1, 0, 7, 19] = 7.0
    size = rng.random((2, 2, 16, 20)).astype(np.float32) * 5
    mine = decode_electrodes(heat, size, 4, k, threshold)
    theirs = decode_peaks(torch.from_numpy(heat), torch.from_numpy(size), stride=4, k=k, threshold=threshold,
                          logits=True)
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape and (len(a) > 0 or threshold > 0.9)
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize(("image", "message"), [
    ("frame.png", "expected an image array, got the path 'frame.png'; cathx.load"),
    (None, "expected an image array of numbers, got NoneType"),
])
def test_predictor_refuses_non_arrays_with_a_message(image, message):
    with pytest.raises(DataError, match=message):
        Predictor(FakeRunner(), input_size=64)(image)


def test_onnx_output_stride_reads_the_one_name_and_the_old_one():
    from pathlib import Path

    from cathx.errors import CathxError
    from cathx.inference.predictor import onnx_output_stride

    assert onnx_output_stride(Path("m.onnx"), {"output_stride": "2"}) == 2
    assert onnx_output_stride(Path("m.onnx"), {"stride": "1"}) == 1  # exported before the rename
    with pytest.raises(CathxError, match="m.onnx: no output_stride"):
        onnx_output_stride(Path("m.onnx"), {"input_size": "256"})


def test_a_callers_type_classifier_wins_over_a_damaged_stored_one(tmp_path):
    """Predictor.from_checkpoint(type_classifier=None) loads weights whose stored decision no
    longer fits (fitted on other features) instead of failing; without it the file is named."""
    import pytest
    import torch

    from cathx.checkpoint import save_checkpoint
    from cathx.errors import CathxError
    from cathx.inference.predictor import Predictor
    from cathx.models import build_model, model_profile

    torch.manual_seed(0)
    cfg = model_profile("demo", latent_channels=16, decoder_channels=(8, 8), head_channels=8)
    path = save_checkpoint(tmp_path / "old.pt", build_model(cfg), cfg,
                           extra={"input_size": 64, "type_classifier": {"features": ["count"], "classes": []}})
    with pytest.raises(CathxError, match="old.pt: damaged type classifier"):
        Predictor.from_checkpoint(path)
    assert Predictor.from_checkpoint(path, type_classifier=None).type_classifier is None


def test_a_predictors_tracker_carries_its_type_decision(tiny_checkpoint):
    from cathx.inference.predictor import Predictor

    predictor = Predictor.from_checkpoint(tiny_checkpoint)
    predictor.type_classifier = object()
    assert predictor.tracker().type_classifier is predictor.type_classifier


def test_precision_auto_follows_the_cpu_and_bf16_stays_close_to_fp32(tiny_checkpoint, monkeypatch):
    import cathx.system

    image = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    monkeypatch.setattr(cathx.system, "native_bf16", lambda cpuinfo=None, unknown=True: False)
    emulating = Predictor.from_checkpoint(tiny_checkpoint)
    assert emulating.precision == "fp32" and "bfloat16" not in emulating.description
    assert Predictor.from_checkpoint(tiny_checkpoint, precision="bf16").precision == "fp32"  # would be emulated
    monkeypatch.setattr(cathx.system, "native_bf16", lambda cpuinfo=None, unknown=True: True)
    fast = Predictor.from_checkpoint(tiny_checkpoint, peak_threshold=0.0)
    assert fast.precision == "bf16" and fast.description.endswith(", bfloat16")
    exact = Predictor.from_checkpoint(tiny_checkpoint, peak_threshold=0.0, precision="fp32")
    a, b = fast.network(fast.preprocess([image])[0]), exact.network(exact.preprocess([image])[0])
    for name in a:
        assert a[name].dtype == np.float32
        np.testing.assert_allclose(a[name], b[name], atol=0.05 * (np.abs(b[name]).max() + 1e-6))


def test_precision_errors_name_the_choices_and_the_onnx_limit(tiny_checkpoint, tmp_path):
    from cathx.errors import CathxError

    with pytest.raises(CathxError, match=r"precision 'fp16': choose from auto, fp32, bf16"):
        Predictor.from_checkpoint(tiny_checkpoint, precision="fp16")
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"not read")
    with pytest.raises(CathxError, match=r"m.onnx: precision bf16 needs the torch backend"):
        Predictor.from_checkpoint(onnx, backend="onnx", precision="bf16")
