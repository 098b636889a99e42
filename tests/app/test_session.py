"""cathx.app.session without a browser: upload checks, a prediction into the workspace with every
download file, the frame tables, the synthetic examples, and the models on offer."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import numpy as np
import pytest

import cathx
from cathx.app.session import MB, Models, Workspace, check_upload, predict_file, synthetic_example
from cathx.errors import CathxError
from builders import write_dicom  # the DICOM writer of the reader's tests


@pytest.fixture
def workspace(tmp_path):
    space = Workspace(tmp_path)
    yield space
    space.close()
    assert not space.root.exists()


def test_a_dicom_sequence_gives_tables_and_every_download(tiny_checkpoint, workspace, tmp_path):
    source = tmp_path / "run.dcm"
    write_dicom(source, np.random.default_rng(0).integers(0, 4096, (4, 64, 64)), FrameTime=66.7)
    model = cathx.load(tiny_checkpoint, peak_threshold=0.0)  # a random network: every peak is an electrode
    seen = []
    opened = check_upload(source, 10 * MB)
    run = predict_file(model, opened.path, workspace.new_run("run"), "run",
                       on_frame=lambda done, total, name: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert run.sequence and len(run.names) == 4 and run.folder.parent == workspace.runs
    assert run.overlay(3).is_file() and run.overlay(99) == run.overlay(3)
    assert set(run.downloads) == {"json", "csv", "mp4", "masks"}
    payload = json.loads(run.downloads["json"].read_text())
    assert payload["summary"]["frames"] == 4 and payload["summary"]["source"] == "run"
    assert [frame["meta"]["name"] for frame in payload["frames"]] == run.names
    rows = list(csv.DictReader(io.StringIO(run.downloads["csv"].read_text())))
    assert rows and {row["frame"] for row in rows} == {"0", "1", "2", "3"}
    with zipfile.ZipFile(run.downloads["masks"]) as archive:
        assert sorted(archive.namelist()) == sorted(f"masks/{name}.png" for name in run.names)
    assert run.downloads["mp4"].read_bytes()[4:8] == b"ftyp"
    catheters, electrodes = run.tables(1)
    frame_rows = [row for row in rows if row["frame"] == "1"]
    assert len(electrodes) == len(frame_rows) and all(len(row) == 7 for row in electrodes)
    assert all(len(row) == 6 for row in catheters)
    # a catheter without an id yet (-1, shared with unassigned electrodes) gets no electrode count
    assert all((row[3] == "") == (row[0] < 0) for row in catheters)


@pytest.mark.parametrize("name, content, message", [
    ("big.png", b"\x89PNG" + bytes(2 * MB), "over this app's upload limit of 1 MB"),
    ("empty.png", b"", "the file is empty"),
    ("notes.txt", b"hello", "unsupported file type .txt"),
    ("broken.dcm", b"\0" * 128 + b"DICM" + bytes(300), "broken.dcm"),
])
def test_bad_uploads_are_named_in_one_line(tmp_path, name, content, message):
    path = tmp_path / "gradio-cache" / name
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(CathxError, match=message) as caught:
        check_upload(path, 1 * MB, shown_name=name)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(name) and str(tmp_path) not in text


def test_a_corrupt_image_fails_during_prediction_with_its_name(tiny_checkpoint, workspace, tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    opened = check_upload(path, MB)  # the suffix is fine; the pixels are not
    model = Models([str(tiny_checkpoint)]).get(str(tiny_checkpoint))
    with pytest.raises(CathxError, match="cut.png"):
        predict_file(model, opened.path, workspace.new_run("cut"), "cut")


def test_synthetic_examples_are_readable_inputs(workspace):
    frame = synthetic_example("frame", workspace.examples)
    sequence = synthetic_example("sequence", workspace.examples)
    assert check_upload(frame, MB).length == 1
    opened = check_upload(sequence, MB)
    assert opened.kind == "video" and opened.length == 16 and opened.fps == pytest.approx(15.0)
    with pytest.raises(CathxError, match="choose from sequence, frame"):
        synthetic_example("movie", workspace.examples)


def test_the_example_sequence_holds_a_cs_catheter_for_the_motion_plot():
    from cathx.app.session import EXAMPLE_SEEDS
    from cathx.data.synthetic import generate_sequence

    first = next(iter(generate_sequence(EXAMPLE_SEEDS["sequence"], 1, size=256, fps=15.0)))
    assert "cs_decapolar" in first.catheter_types


def test_models_offered_and_refused():
    models = Models(["cathx-fluoro"])
    assert models.choices == ["cathx-fluoro"]
    with pytest.raises(CathxError, match="model 'other.pt': not offered by this app"):
        models.get("other.pt")
    with pytest.raises(CathxError, match="nosuch.pt"):
        Models(["nosuch.pt"]).get("nosuch.pt")


def test_new_run_folders_are_safe_and_distinct(workspace):
    first, second = workspace.new_run("../a b"), workspace.new_run("../a b")
    assert first != second and first.parent == second.parent == workspace.runs
    assert "/" not in first.name and first.name.startswith("_a_b-")


def test_a_run_is_a_sequence_for_a_video_a_dicom_or_a_tiff_stack(tmp_path):
    from cathx.app.session import Run

    assert [Run(tmp_path, ["a", "b"], {"kind": kind}).sequence for kind in ("video", "dicom", "stack", "folder")] == [
        True, True, True, False]
    assert not Run(tmp_path, ["a"], {"kind": "stack"}).sequence  # one frame: nothing to play


@pytest.fixture(scope="module")
def chest_weights(tmp_path_factory):
    """A tiny seg-aided chest classifier whose random mask head marks some pixels as line."""
    import torch

    from cathx.checkpoint import save_classifier
    from cathx.models.classifier import ClassifierConfig, build_classifier

    path = tmp_path_factory.mktemp("chest") / "classifier.safetensors"
    config = ClassifierConfig(kind="seg_aided", backbone="rexnet_100", decoder_width=8,
                              backbone_args={"width_mult": 0.5})
    model = build_classifier(config)
    torch.nn.init.constant_(model.mask_head.bias, 0.5)
    save_classifier(path, model.eval(), config, 64)
    return path


def test_a_radiograph_gives_labels_tips_overlay_and_downloads(chest_weights, workspace):
    import cv2

    from cathx.app.session import LABEL_COLUMNS, TIP_COLUMNS, check_radiograph, chest_example, predict_radiograph
    from cathx.data.chest.ranzcr import LABELS

    models = Models(chest_weights=str(chest_weights))
    example = chest_example(workspace.examples)
    assert example.parent == workspace.examples and chest_example(workspace.examples) == example  # written once
    image = check_radiograph(example, MB)
    assert image.shape == (512, 512) and image.dtype == np.float32
    run = predict_radiograph(models.chest(), image, workspace.new_run("film"), "film")
    assert run.folder.parent == workspace.runs and models.chest() is models.chest()  # loaded once
    assert [row[0] for row in run.label_rows()] == list(LABELS) and len(LABEL_COLUMNS) == 2
    assert all(0.0 <= row[1] <= 1.0 for row in run.label_rows())
    assert cv2.imread(str(run.overlay)).shape == (512, 512, 3)
    assert set(run.downloads) == {"json", "mask"}
    mask = cv2.imread(str(run.downloads["mask"]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (512, 512) and set(np.unique(mask)) <= {0, 255} and mask.any()
    payload = json.loads(run.downloads["json"].read_text())
    assert payload["name"] == "film" and set(payload["probabilities"]) == set(LABELS)
    assert all(len(row) == len(TIP_COLUMNS) for row in run.tip_rows()) and len(run.tip_rows()) == len(payload["tips"])


@pytest.mark.parametrize("name, content, message", [
    ("big.png", b"\x89PNG" + bytes(2 * MB), "over this app's upload limit of 1 MB"),
    ("empty.png", b"", "the file is empty"),
    ("notes.txt", b"hello", "not an image (.jpg, .jpeg, .png) or DICOM file"),
    ("cut.png", b"\x89PNG\r\n\x1a\n" + bytes(100), "not a readable image"),
])
def test_bad_radiographs_are_named_in_one_line(tmp_path, name, content, message):
    from cathx.app.session import check_radiograph

    path = tmp_path / "gradio-cache" / name
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(CathxError, match=re.escape(message)) as caught:
        check_radiograph(path, 1 * MB, shown_name=name)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(name) and str(tmp_path) not in text


def test_a_bad_chest_model_is_refused_when_loaded(tmp_path):
    bad = tmp_path / "chest.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":")
    with pytest.raises(CathxError, match="chest.safetensors: not a readable chest classifier"):
        Models(chest_weights=str(bad)).load_all()
