"""cathx.load("cathx-chest"): the shipped chest classifier behind the Python API (ChestModel, ChestResults)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import cathx
from cathx.data.chest.ranzcr import LABELS
from cathx.errors import CathxError
from cathx.inference.chest_model import ChestModel, _unit_grey


@pytest.fixture(scope="module")
def chest():
    return cathx.load("cathx-chest")


def _radiograph(height: int = 96, width: int = 80) -> np.ndarray:
    return (np.random.default_rng(0).random((height, width)) * 255).astype(np.uint8)


@pytest.mark.slow  # builds and loads the 3.4 M-parameter network (about 6 s on the 2-CPU machine)
def test_load_and_predict_an_array_and_the_same_file(chest, tmp_path):
    assert isinstance(chest, ChestModel) and "seg_aided" in repr(chest) and chest.input_size == 256
    image = _radiograph()
    results = chest.predict(image)
    assert list(results.probabilities) == list(LABELS)
    assert all(0.0 < p < 1.0 for p in results.probabilities.values())
    assert results.mask is not None and results.mask.shape == (96, 80) and results.image.shape == (96, 80)
    assert "\n" not in repr(results) and repr(results).startswith("ChestResults('image', 80x96 px, top ")
    cv2.imwrite(str(tmp_path / "study.png"), image)
    from_file = chest.predict(tmp_path / "study.png")  # the reader and the array path agree
    assert from_file.name == "study"
    np.testing.assert_allclose(list(from_file.probabilities.values()), list(results.probabilities.values()),
                               atol=1e-5)
    # the float view of the same pixels gives the same answer: one pixel scaling for both
    again = chest.predict(image.astype(np.float32) / 255.0)
    np.testing.assert_allclose(list(again.probabilities.values()), list(results.probabilities.values()), atol=1e-5)


@pytest.mark.slow
def test_results_plot_json_save(chest, tmp_path):
    results = chest.predict(_radiograph())
    plot = results.plot()
    assert plot.shape == (96, 80, 3) and plot.dtype == np.uint8
    record = json.loads(results.to_json())
    assert record["top"] == results.top[0] == max(record["probabilities"], key=record["probabilities"].get)
    assert (record["width"], record["height"], record["has_mask"]) == (80, 96, True)
    paths = results.save(tmp_path / "out")
    assert json.loads(paths["json"].read_text())["probabilities"] == record["probabilities"]
    assert cv2.imread(str(paths["plot"])).shape == (96, 80, 3)
    assert cv2.imread(str(paths["mask"]), cv2.IMREAD_UNCHANGED).shape == (96, 80)
    # the images' own folder is refused: image.png would be replaced by its plot
    (tmp_path / "studies").mkdir()
    cv2.imwrite(str(tmp_path / "studies" / "image.png"), _radiograph())
    with pytest.raises(CathxError, match=r"ChestResults.save .*studies: folder already holds files cathx did not write"):
        results.save(tmp_path / "studies")
    assert cv2.imread(str(tmp_path / "studies" / "image.png"), cv2.IMREAD_UNCHANGED).shape == (96, 80)


@pytest.mark.slow
def test_folders_and_lists_stream_results(chest, tmp_path):
    for name in ("b", "a"):
        cv2.imwrite(str(tmp_path / f"{name}.png"), _radiograph())
    assert [r.name for r in chest.predict(tmp_path)] == ["a", "b"]
    cv2.imwrite(str(tmp_path / "a.jpg"), _radiograph())  # two stems alike: two names, two saved files
    assert [r.name for r in chest.predict(tmp_path)] == ["a_jpg", "a_png", "b"]
    assert [r.name for r in chest.predict([_radiograph(), tmp_path / "b.png"])] == ["array_00000", "b"]


@pytest.mark.slow
@pytest.mark.parametrize(("source", "message"), [
    (3, "predict: expected an image path (.jpg/.jpeg/.png/.dcm), a folder of them, a numpy array"),
    (np.zeros((2, 3, 4, 5)), "expected one image (H, W) or (H, W, 3), got an array of shape (2, 3, 4, 5)"),
    ([], "got an empty list"),
    ([np.zeros((8, 8)), 2.5], "item 1: expected an image path or a numpy array, got float"),
])
def test_wrong_inputs_name_what_was_expected(chest, source, message):
    with pytest.raises(CathxError) as caught:
        chest.predict(source)
    assert message in str(caught.value)


@pytest.mark.parametrize(("array", "message"), [
    (np.full((8, 8), 255.0), "expected float pixels in [0, 1] (or uint8 / uint16 pixels), got values from 255 to 255"),
    (np.zeros((8, 8, 7)), "got an array of shape (8, 8, 7)"),
    (np.array([["a"]]), "expected an image array of numbers"),
])
def test_pixels_are_checked(array, message):
    with pytest.raises(CathxError) as caught:
        _unit_grey(array, "predict")
    assert message in str(caught.value)


def test_grey_pixels_of_every_kind():
    grey = _unit_grey(np.array([[0, 255]], np.uint8), "x")
    np.testing.assert_allclose(grey, [[0.0, 1.0]])
    np.testing.assert_allclose(_unit_grey(np.array([[0, 65535]], np.uint16), "x"), [[0.0, 1.0]])
    rgb = np.zeros((1, 2, 3), np.uint8)
    rgb[0, 1] = (255, 0, 0)  # pure red: 0.299 in the ITU-R 601 weights, 0.114 if read as BGR
    np.testing.assert_allclose(_unit_grey(rgb, "x"), [[0.0, 0.299]], atol=1e-3)


def test_chest_load_refuses_catheter_options():
    with pytest.raises(CathxError, match="unexpected option 'backend'; the chest model takes device and mask_threshold"):
        cathx.load("cathx-chest", backend="onnx")


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.2, float("nan")])
def test_mask_threshold_outside_the_open_unit_interval_is_refused(threshold):
    import torch

    with pytest.raises(CathxError, match=r"^mask_threshold .*: must be in \(0, 1\)$"):
        ChestModel(torch.nn.Identity(), config=None, input_size=64, mask_threshold=threshold)


@pytest.mark.slow  # loads the shipped network a second time
def test_load_passes_the_mask_threshold(chest):
    low = cathx.load("cathx-chest", mask_threshold=0.2)
    assert low.mask_threshold == 0.2 and chest.mask_threshold == 0.5
    from cathx.data.chest.synthetic import generate_study

    image = generate_study(90210, 3, size=256).image  # a study with lines (about 2,000 mask pixels at 0.5)
    kept_low, kept_default = low.predict(image).mask > 0, chest.predict(image).mask > 0
    assert kept_low.sum() > kept_default.sum() > 0
    assert not (kept_default & ~kept_low).any()  # a lower cut keeps every pixel the default keeps
