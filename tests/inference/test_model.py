"""The Python API: cathx.load(...).predict(x) on every kind of input, Results views, bad inputs."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import types

import cv2
import numpy as np
import pytest
import torch
from builders import write_dicom
from PIL import Image

import cathx
from cathx.errors import CathxError, DataError
from cathx.postprocess.results import Results


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return cathx.load(tiny_checkpoint, peak_threshold=0.0)


def _png(path, size=(70, 60), value=None):
    rng = np.random.default_rng(0)
    image = (rng.random(size) * 255).astype(np.uint8) if value is None else np.full(size, value, np.uint8)
    cv2.imwrite(str(path), image)
    return path


def test_import_cathx_stays_light():
    code = "import sys, cathx; print(any(m in sys.modules for m in ('torch', 'cv2', 'numpy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert callable(cathx.load) and "weights" in inspect.signature(cathx.load).parameters


def test_one_image_path_gives_one_results(model, tmp_path):
    results = model.predict(_png(tmp_path / "frame.png"))
    assert isinstance(results, Results)
    assert results.image_size == (70, 60) and results.mask.shape == (70, 60)
    assert results.image.shape == (70, 60) and results.meta["name"] == "frame"
    assert 0 < len(results.electrodes) <= 64  # peak threshold 0: every local maximum, at most top-K
    assert model(tmp_path / "frame.png").image_size == (70, 60)  # calling the model predicts too


def test_arrays_of_any_common_kind(model):
    grey = model.predict(np.zeros((48, 80), np.uint8))
    assert grey.image_size == (48, 80) and grey.meta["name"] == "image"
    assert model.predict(np.zeros((48, 80, 3), np.float32)).image_size == (48, 80)
    assert model.predict(np.zeros((48, 80), np.uint16)).image_size == (48, 80)
    assert model.predict(torch.zeros(48, 80)).image_size == (48, 80)
    assert model.predict(Image.new("RGB", (80, 48))).image_size == (48, 80)  # PIL: width, height


def test_folder_and_list_stream_lazily(model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        _png(folder / f"f{i}.png")
    stream = model.predict(folder)
    assert isinstance(stream, types.GeneratorType)
    assert [r.meta["name"] for r in stream] == ["f0", "f1", "f2"]
    mixed = list(model.predict([folder / "f1.png", np.zeros((40, 40), np.uint8), folder]))
    assert [r.meta["name"] for r in mixed] == ["f1", "array_00001", "f0", "f1", "f2"]
    assert list(model.predict(iter([np.zeros((40, 40), np.uint8)])))[0].image_size == (40, 40)


def test_dicom_sequence_is_tracked(model, tmp_path, monkeypatch):
    import cathx.postprocess.tracking as tracking

    updated = []

    class Recorder:
        def __init__(self, **options):  # the predictor's type decision and input side (Predictor.tracker)
            assert set(options) == {"type_classifier", "reference_side"}

        def update(self, results):
            updated.append(results.meta["frame"])
            return results

    monkeypatch.setattr(tracking, "Tracker", Recorder)
    frames = np.random.default_rng(1).integers(0, 4096, (4, 64, 64))
    write_dicom(tmp_path / "run.dcm", frames, FrameTime=100.0)
    stream = model.predict(tmp_path / "run.dcm")
    results = list(stream)
    assert [r.meta["frame"] for r in results] == [0, 1, 2, 3] and updated == [0, 1, 2, 3]
    assert results[0].image.dtype == np.float32 and results[0].plot().shape == (64, 64, 3)
    list(model.predict(tmp_path / "run.dcm", track=False))
    list(model.predict([np.zeros((40, 40), np.uint8)] * 2))  # unrelated images: never tracked
    assert updated == [0, 1, 2, 3]


def test_track_treats_a_list_a_stack_and_a_folder_as_one_sequence(model, tmp_path, monkeypatch):
    import cathx.postprocess.tracking as tracking

    trackers = []

    class Recorder:
        def __init__(self, **options):  # the predictor's type decision (Predictor.tracker)
            self.frames = []
            trackers.append(self.frames)

        def update(self, results):
            self.frames.append(results.meta["frame"])
            return results

    monkeypatch.setattr(tracking, "Tracker", Recorder)
    frames = [np.full((40, 40), 10 * i, np.uint8) for i in range(3)]
    assert [r.meta["name"] for r in model.track(frames)] == ["frame_00000", "frame_00001", "frame_00002"]
    list(model.track(np.stack(frames)))
    list(model.track(iter(frames)))
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        _png(folder / f"f{i}.png")
    list(model.track(folder))
    assert [r.meta["name"] for r in model.track([folder / "f2.png", frames[0]])] == ["f2", "frame_00001"]
    # one tracker per call, seeing every frame of it in order
    assert trackers == [[0, 1, 2]] * 4 + [[0, 1]]
    # a folder of two DICOM runs: one tracker per run, as `cathx predict` keeps them apart
    trackers.clear()
    runs = tmp_path / "runs"
    runs.mkdir()
    for name, count in (("a.dcm", 2), ("b.dcm", 3)):
        write_dicom(runs / name, np.random.default_rng(count).integers(0, 4096, (count, 64, 64)), FrameTime=100.0)
    assert len(list(model.predict(runs))) == 5
    assert [len(seen) for seen in trackers] == [2, 3]


@pytest.mark.parametrize(("frames", "message"), [
    (np.zeros((40, 40), np.uint8), "got one image of shape (40, 40)"),
    ([], "got an empty list"),
    ({"a": 1}, "expected the frames of a sequence"),
    ([np.zeros((40, 40), np.uint8), "missing.png"], "missing.png: no such file"),
    ([object()], "item 0: expected an image array or path, got object"),
])
def test_track_rejects_what_is_no_sequence_with_one_line(model, frames, message):
    with pytest.raises(CathxError, match=re.escape(message)):
        list(model.track(frames))


def test_video_streams_frames(model, tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), 60 * i, np.uint8))
    writer.release()
    assert [r.meta["name"] for r in model.predict(path, batch_size=2)] == [f"clip_{i:05d}" for i in range(3)]


def test_results_views(model, tmp_path):
    results = model.predict(_png(tmp_path / "frame.png"))
    line = repr(results)
    assert "\n" not in line and line.startswith("Results('frame': 60x70,")
    assert f"{len(results.electrodes)} electrodes" in line
    assert len(line) < 200
    overlay = results.plot()
    assert overlay.shape == (70, 60, 3) and overlay.dtype == np.uint8
    png = results._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).shape == (70, 60, 3)
    payload = json.loads(results.to_json())
    assert payload["image_size"] == {"height": 70, "width": 60} and len(payload["electrodes"]) == len(results.electrodes)
    assert isinstance(results.centrelines, list) and len(results.centrelines) == len(results.catheters)
    written = results.save(tmp_path / "out")
    assert sorted(written) == ["json", "mask", "overlay"]
    assert written["overlay"] == tmp_path / "out" / "overlays" / "frame.png"
    assert cv2.imread(str(written["mask"]), cv2.IMREAD_UNCHANGED).shape == (70, 60)
    assert json.loads(written["json"].read_text()) == payload
    results.save(tmp_path / "out")  # the same folder again: cathx wrote it, so it may be reused


def test_results_repr_without_name_and_plot_needs_an_image():
    results = Results(image_size=(10, 20), mask=np.zeros((10, 20), np.uint8))
    assert repr(results) == "Results(20x10, 0 catheters, 0 electrodes, mask 0.0%)"
    assert results._repr_png_() is None
    with pytest.raises(CathxError, match="no image attached"):
        results.plot()


def test_save_refuses_a_folder_of_someone_elses_files(model, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    results = model.predict(np.zeros((40, 40), np.uint8))
    with pytest.raises(CathxError, match="notes.txt"):
        results.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize(("source", "message"), [
    (42, "expected an image path, a folder, a video, a DICOM file, a numpy array .* got int"),
    (None, "got NoneType"),
    ([], "empty list"),
    ([np.zeros((40, 40)), 3.5], "item 1: expected an image path or a numpy array, got float"),
    (np.zeros((5, 40, 40)), r"shape \(5, 40, 40\); for a stack of frames pass a list"),
    (np.zeros(40), r"expected one image \(H, W\) or \(H, W, 3\), got an array of shape \(40,\)"),
    (np.array(["a", "b"]), "array of numbers, got dtype <U1"),
    ({"image": 1}, "got dict"),
])
def test_bad_inputs_name_what_was_expected(model, source, message):
    with pytest.raises(CathxError, match=message):
        model.predict(source)


def test_bad_paths_raise_before_streaming(model, tmp_path):
    with pytest.raises(DataError, match="missing.png: no such file"):
        model.predict(tmp_path / "missing.png")
    (tmp_path / "notes.xyz").write_text("x")
    with pytest.raises(DataError, match="unsupported file type .xyz"):
        model.predict([tmp_path / "notes.xyz"])  # raised at the call, not at the first frame
    with pytest.raises(DataError, match="8x8 px"):
        model.predict(np.zeros((8, 8), np.uint8))
    with pytest.raises(CathxError, match="batch_size"):
        model.predict(np.zeros((40, 40), np.uint8), batch_size=0)


@pytest.mark.parametrize(("weights", "kwargs", "message"), [
    ("no-such-model", {}, "no such weights file or shipped model; shipped models: cathx-fluoro"),
    ("missing.pt", {}, "missing.pt: weights file not found"),
    (3, {}, "expected a model name or a weights path, got int"),
])
def test_load_bad_weights(weights, kwargs, message):
    with pytest.raises(CathxError, match=message):
        cathx.load(weights, **kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"device": "tpu"}, "device 'tpu': choose from cpu, cuda, cuda:N, auto"),
    ({"backend": "tf"}, "unknown backend 'tf'; choose from torch, onnx"),
    ({"mask_threshold": 1.5}, r"mask_threshold 1.5: must be in \(0, 1\)"),
])
def test_load_bad_options(tiny_checkpoint, kwargs, message):
    with pytest.raises(CathxError, match=message):
        cathx.load(tiny_checkpoint, **kwargs)


def test_load_auto_device_and_repr(tiny_checkpoint):
    model = cathx.load(str(tiny_checkpoint), device="auto")
    assert model.device in ("cpu", "cuda") and model.input_size == 64
    assert repr(model).startswith(f"Model({str(tiny_checkpoint)!r}, tiny.pt") and "torch on" in repr(model)
