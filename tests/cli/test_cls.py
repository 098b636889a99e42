"""`cathx cls synth|train|val|predict`, and exit 2 with one clear line on bad input."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from cathx.checkpoint import save_classifier
from cathx.data.chest.ranzcr import LABELS
from cathx.models.classifier import ClassifierConfig, build_classifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def chest_set(tmp_path_factory):
    from cathx.data.chest.synthetic import write_chest_dataset

    return write_chest_dataset(tmp_path_factory.mktemp("cls") / "data", 8, size=64, seed=1, workers=1)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "classifier.safetensors"
    model = build_classifier(ClassifierConfig(kind="multi", backbone="rexnet_100", backbone_args={"width_mult": 0.5}))
    save_classifier(path, model.eval(), model.config, 32)
    return path


def test_synth_writes_layout(run_cli, tmp_path):
    result = run_cli("cls", "synth", tmp_path / "s", "--n", 3, "--size", 48, "--seed", 4, "--workers", 1)
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "s" / "train").glob("*.jpg"))) == 3
    again = run_cli("cls", "synth", tmp_path / "s", "--n", 3)
    assert again.exit_code == 2 and "--overwrite" in again.stderr


def test_val_writes_json_csv_markdown(run_cli, chest_set, weights, tmp_path):
    result = run_cli("cls", "val", "--weights", weights, "--data", chest_set, "--out", tmp_path / "v")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert report["studies"] == 8 and set(report["per_label_auc"]) == set(LABELS)
    with (tmp_path / "v" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["label"] for r in rows] == [*LABELS, "mean"]
    assert "mean (column-wise)" in (tmp_path / "v" / "metrics.md").read_text()


def test_predict_probabilities_and_gradcam(run_cli, chest_set, weights, tmp_path):
    result = run_cli("cls", "predict", chest_set / "train", "--weights", weights, "--out", tmp_path / "p")
    assert result.exit_code == 0, result.stderr
    records = json.loads((tmp_path / "p" / "predictions.json").read_text())
    assert len(records) == 8 and all(0 <= v <= 1 for v in records[0]["probabilities"].values())
    assert len(list((tmp_path / "p" / "gradcam").glob("*.png"))) == 8
    header = (tmp_path / "p" / "predictions.csv").read_text().splitlines()[0]
    assert header == ",".join(["StudyInstanceUID", *(f'"{n}"' if "," in n else n for n in LABELS)])


def test_train_tiny(run_cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model: {kind: single, backbone: rexnet_100, backbone_args: {width_mult: 0.5}}\n"
                      "data: {synth_n: 12, synth_size: 48, image_size: 32, batch_size: 6, folds: 2}\n"
                      "epochs: 1\nthreads: 1\n")
    result = run_cli("cls", "train", "--config", config, "--out", tmp_path / "run", "--fold", 1)
    assert result.exit_code == 0, result.stderr
    weights = tmp_path / "run" / "classifier.safetensors"
    assert weights.is_file() and (tmp_path / "run" / "classifier.json").is_file()
    assert not (tmp_path / "run" / "classifier.pt").exists()
    assert "mean (column-wise)" in result.stdout
    # what cls train wrote is what cls predict and cls val take
    image = sorted((tmp_path / "run" / "synthetic" / "train").glob("*.jpg"))[0]
    result = run_cli("cls", "predict", image, "--weights", weights, "--out", tmp_path / "p", "--no-cam")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads((tmp_path / "p" / "predictions.json").read_text())) == 1


def test_train_init_fine_tunes_from_given_weights_and_refuses_another_architecture(run_cli, weights, tmp_path):
    from cathx.checkpoint import read_classifier

    config = tmp_path / "c.yaml"
    config.write_text("model: {kind: multi, backbone: rexnet_100, backbone_args: {width_mult: 0.5}}\n"
                      "data: {synth_n: 12, synth_size: 48, image_size: 32, batch_size: 6, folds: 2}\n"
                      "epochs: 1\nlr: 1.0e-9\nweight_decay: 0.0\nthreads: 1\n")
    result = run_cli("cls", "train", "--config", config, "--out", tmp_path / "run", "--init", weights)
    assert result.exit_code == 0, result.stderr
    start, tuned = read_classifier(weights), read_classifier(tmp_path / "run" / "classifier.safetensors")
    assert tuned["extra"]["init"] == str(weights)
    # at a rate of 1e-9 the convolutions keep the given weights (a random start would not)
    conv = next(k for k, v in start["state_dict"].items() if v.ndim == 4)
    assert torch.allclose(tuned["state_dict"][conv], start["state_dict"][conv], atol=1e-6)

    other = tmp_path / "other.yaml"
    other.write_text(config.read_text().replace("kind: multi", "kind: single"))
    result = run_cli("cls", "train", "--config", other, "--out", tmp_path / "o", "--init", weights)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"{weights}: a multi rexnet_100 classifier does not fit this config's model (model.kind 'multi' there, 'single' here)" in result.stderr
    assert not (tmp_path / "o" / "synthetic").exists()  # refused before any study is written
    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(config.read_text().replace("image_size: 32", "image_size: 64"))
    result = run_cli("cls", "train", "--config", bigger, "--out", tmp_path / "o", "--init", weights)
    assert result.exit_code == 2 and "trained at 32 px, this config's data.image_size is 64" in result.stderr
    result = run_cli("cls", "train", "--config", config, "--out", tmp_path / "o", "--init", "cathx-nothing")
    assert result.exit_code == 2 and "shipped models: cathx-fluoro, cathx-chest" in result.stderr


def test_an_old_classifier_pt_still_validates(run_cli, chest_set, tmp_path):
    """classifier.pt written by `cls train` before issue 16 (torch zip, read with weights_only=True)."""
    from cathx.checkpoint import CHEST_FORMAT
    from cathx.config import to_dict

    cfg = ClassifierConfig(kind="multi", backbone="rexnet_100", backbone_args={"width_mult": 0.5})
    old = tmp_path / "classifier.pt"
    torch.save({"format": CHEST_FORMAT, "version": 1, "model_config": to_dict(cfg), "image_size": 32,
                "labels": list(LABELS), "state_dict": build_classifier(cfg).state_dict(), "extra": {"fold": 0}},
               old)
    result = run_cli("cls", "val", "--weights", old, "--data", chest_set, "--out", tmp_path / "v")
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "v" / "metrics.json").read_text())["studies"] == 8


def _edit_csv(path, edit):
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    edit(rows)
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_bad_inputs_exit_2_with_one_line(run_cli, chest_set, weights, tmp_path):
    import shutil

    missing_col = shutil.copytree(chest_set, tmp_path / "a")
    column = LABELS.index("NGT - Normal") + 1
    _edit_csv(missing_col / "train.csv", lambda rows: [r.pop(column) for r in rows])
    result = run_cli("cls", "val", "--weights", weights, "--data", missing_col, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "missing column(s) 'NGT - Normal'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    unknown = shutil.copytree(chest_set, tmp_path / "b")
    _edit_csv(unknown / "train_annotations.csv", lambda rows: rows[1].__setitem__(1, "PICC - Normal"))
    result = run_cli("cls", "val", "--weights", weights, "--data", unknown, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "unknown label name(s) 'PICC - Normal'" in result.stderr

    absent = shutil.copytree(chest_set, tmp_path / "c")
    gone = sorted((absent / "train").glob("*.jpg"))[0]
    gone.unlink()
    result = run_cli("cls", "val", "--weights", weights, "--data", absent, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "1 image(s) listed but missing" in result.stderr and gone.stem in result.stderr

    result = run_cli("cls", "predict", tmp_path / "nowhere", "--weights", weights, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "no such file or folder" in result.stderr
    result = run_cli("cls", "val", "--weights", tmp_path / "none.pt", "--data", chest_set, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "weights file not found" in result.stderr
    config = tmp_path / "bad.yaml"
    config.write_text("model: {backbone: resnet50}\n")
    result = run_cli("cls", "train", "--config", config, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "unknown backbone 'resnet50'" in result.stderr


@pytest.fixture(scope="module")
def seg_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("seg") / "classifier.safetensors"
    cfg = ClassifierConfig(kind="seg_aided", backbone="rexnet_100", decoder_width=8,
                           backbone_args={"width_mult": 0.5})
    model = build_classifier(cfg)
    torch.nn.init.constant_(model.mask_head.bias, 0.5)  # a random head that marks some pixels as line
    save_classifier(path, model.eval(), cfg, 64)
    return path


def test_predict_writes_masks_at_each_images_own_size_and_tips(run_cli, seg_weights, tmp_path):
    import cv2
    import numpy as np

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    shapes = {"wide": (70, 90), "tall": (130, 50), "square": (64, 64)}
    for stem, shape in shapes.items():
        cv2.imwrite(str(folder / f"{stem}.png"), rng.integers(0, 255, shape, dtype=np.uint8))
    result = run_cli("cls", "predict", folder, "--weights", seg_weights, "--out", tmp_path / "p", "--no-cam")
    assert result.exit_code == 0, result.stderr
    assert "line masks in" in result.stdout
    for stem, shape in shapes.items():
        mask = cv2.imread(str(tmp_path / "p" / "masks" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        assert mask.shape == shape and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    with (tmp_path / "p" / "tips.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert (tmp_path / "p" / "tips.csv").read_text().splitlines()[0] == "image,line,x,y,score"
    for row in rows:
        height, width = shapes[row["image"]]
        assert row["line"] in {"ETT", "NGT", "CVC", "Swan"}
        assert 0 <= float(row["x"]) <= width - 1 and 0 <= float(row["y"]) <= height - 1  # inside the image
        assert 0.5 <= float(row["score"]) <= 1.0
    records = json.loads((tmp_path / "p" / "predictions.json").read_text())
    assert sum(len(r["tips"]) for r in records) == len(rows)


def test_predict_mask_threshold_trades_precision_for_recall(run_cli, seg_weights, tmp_path):
    """A lower --mask-threshold keeps every pixel a higher one keeps, and more; tips' scores follow."""
    import cv2
    import numpy as np

    image = tmp_path / "film.png"
    cv2.imwrite(str(image), np.random.default_rng(1).integers(0, 255, (96, 96), dtype=np.uint8))
    masks = {}
    for threshold in ("0.3", "0.7"):
        out = tmp_path / f"t{threshold}"
        result = run_cli("cls", "predict", image, "--weights", seg_weights, "--out", out, "--no-cam",
                         "--mask-threshold", threshold)
        assert result.exit_code == 0, result.stderr
        masks[threshold] = cv2.imread(str(out / "masks" / "film.png"), cv2.IMREAD_UNCHANGED) > 0
        with (out / "tips.csv").open() as handle:
            assert all(float(row["score"]) >= float(threshold) for row in csv.DictReader(handle))
    assert masks["0.3"].sum() > masks["0.7"].sum() and not (masks["0.7"] & ~masks["0.3"]).any()

    for bad in ("0", "1", "1.5", "nan"):
        result = run_cli("cls", "predict", image, "--weights", seg_weights, "--out", tmp_path / "bad",
                         "--mask-threshold", bad)
        assert result.exit_code == 2 and "--mask-threshold" in result.stderr and "must be in (0.0, 1.0)" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_predict_a_3000_px_radiograph(run_cli, seg_weights, tmp_path):
    import cv2
    import numpy as np

    image = np.zeros((3000, 3000), np.uint8)
    cv2.line(image, (1500, 0), (1500, 1800), 255, 12)
    cv2.imwrite(str(tmp_path / "big.jpg"), image)
    result = run_cli("cls", "predict", tmp_path / "big.jpg", "--weights", seg_weights, "--out", tmp_path / "p")
    assert result.exit_code == 0, result.stderr
    mask = cv2.imread(str(tmp_path / "p" / "masks" / "big.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (3000, 3000) and set(np.unique(mask)) <= {0, 255}
    assert cv2.imread(str(tmp_path / "p" / "gradcam" / "big.png")).shape[:2] == (3000, 3000)


def test_predict_without_a_mask_head_says_so(run_cli, chest_set, weights, tmp_path):
    result = run_cli("cls", "predict", sorted((chest_set / "train").glob("*.jpg"))[0], "--weights", weights,
                     "--out", tmp_path / "p", "--no-cam")
    assert result.exit_code == 0, result.stderr
    assert "no line masks: a 'multi' classifier has no segmentation head" in result.stdout
    assert not (tmp_path / "p" / "masks").exists() and not (tmp_path / "p" / "tips.csv").exists()


def test_predict_bad_inputs_exit_2_with_one_line(run_cli, seg_weights, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "scan.png").write_bytes(b"not a png at all")
    result = run_cli("cls", "predict", broken, "--weights", seg_weights, "--out", tmp_path / "o1")
    assert result.exit_code == 2 and "scan.png: not a readable image (corrupt, truncated or unsupported format)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("cls", "predict", empty, "--weights", seg_weights, "--out", tmp_path / "o2")
    assert result.exit_code == 2 and "no .jpg/.jpeg/.png images or .dcm files in this folder" in result.stderr

    text = tmp_path / "notes.txt"
    text.write_text("x")
    result = run_cli("cls", "predict", text, "--weights", seg_weights, "--out", tmp_path / "o3")
    assert result.exit_code == 2 and "notes.txt: not an image" in result.stderr

    result = run_cli("cls", "predict", text, "--weights", "cathx-chst", "--out", tmp_path / "o4")
    assert result.exit_code == 2 and "cathx-chst: no such weights file or shipped model" in result.stderr
    assert "cathx-chest" in result.stderr

    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":")
    result = run_cli("cls", "predict", text, "--weights", truncated, "--out", tmp_path / "o5")
    assert result.exit_code == 2 and "cut.safetensors: not a readable chest classifier safetensors file" in result.stderr


def test_synth_reads_engine_factors_from_a_config(run_cli, tmp_path):
    import cv2

    config = tmp_path / "engine.yaml"
    config.write_text("data: {synth: {ett_prob: 0, ngt_prob: 0, cvc_prob: 0, swan_prob: 0, ecg_prob: 0, "
                      "text_prob: 1.0}}\n")
    result = run_cli("cls", "synth", tmp_path / "s", "--n", 3, "--size", 64, "--workers", 1, "--config", config)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "s" / "train_annotations.csv").read_text().strip() == "StudyInstanceUID,label,data"
    image = cv2.imread(str(sorted((tmp_path / "s" / "train").glob("*.jpg"))[0]), cv2.IMREAD_GRAYSCALE)
    assert image.max() >= 190  # burned-in text

    config.write_text("data: {synth: {core_depth: [0.5, 1.5]}}\n")
    result = run_cli("cls", "synth", tmp_path / "t", "--n", 3, "--config", config)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"{config}: data.synth.core_depth: must be (min, max) with 0 <= min <= max <= 1, got [0.5, 1.5]" in result.stderr


def test_chest_synth_and_predict_report_progress_per_study(tmp_path, chest_set, weights):
    from cathx.data.chest.synthetic import write_chest_dataset
    from cathx.inference.chest import predict_files

    calls = []
    write_chest_dataset(tmp_path / "s", 3, size=48, seed=2, workers=1, progress=lambda *a: calls.append(a))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    calls.clear()
    records = predict_files(weights, chest_set / "train", tmp_path / "p", cam=False, masks=False,
                            progress=lambda *a: calls.append(a))
    assert len(records) == 8 and calls == [(i, 8) for i in range(1, 9)]


def test_predict_same_stems_dicom_hidden_files_and_reruns(run_cli, seg_weights, tmp_path):
    """a.png and a.jpg get a_png and a_jpg; a MONOCHROME1 DICOM radiograph is read (inverted) like
    the PNG of the same pixels; macOS ._ files are left out; a rerun with --no-masks removes the
    earlier tips.csv; a run stopped by a corrupt image can be rerun into its folder."""
    import cv2
    import numpy as np

    from builders import write_dicom

    folder = tmp_path / "in"
    folder.mkdir()
    image = np.zeros((96, 96), np.uint8)
    cv2.line(image, (48, 0), (48, 70), 255, 3)
    cv2.imwrite(str(folder / "a.png"), image)
    cv2.imwrite(str(folder / "a.jpg"), image)
    write_dicom(folder / "scan.dcm", (255 - image)[None], bits=8, photometric="MONOCHROME1")
    (folder / "._a.png").write_bytes(b"AppleDouble")
    out = tmp_path / "p"
    result = run_cli("cls", "predict", folder, "--weights", seg_weights, "--out", out, "--no-cam")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["a_jpg.png", "a_png.png", "scan.png"]
    records = {r["StudyInstanceUID"]: r for r in json.loads((out / "predictions.json").read_text())}
    assert records["scan"]["probabilities"] == records["a_png"]["probabilities"]
    assert (out / "tips.csv").is_file()
    result = run_cli("cls", "predict", folder, "--weights", seg_weights, "--out", out, "--no-cam", "--no-masks")
    assert result.exit_code == 0, result.stderr
    assert not (out / "tips.csv").exists()

    (folder / "z.png").write_bytes(b"not a png")
    stopped = tmp_path / "stopped"
    result = run_cli("cls", "predict", folder, "--weights", seg_weights, "--out", stopped, "--no-cam")
    assert result.exit_code == 2 and "z.png: not a readable image" in result.stderr
    (folder / "z.png").unlink()
    result = run_cli("cls", "predict", folder, "--weights", seg_weights, "--out", stopped, "--no-cam")
    assert result.exit_code == 0, result.stderr


def test_train_out_that_is_a_file_is_one_line(run_cli, tmp_path):
    (tmp_path / "run").write_text("a file")
    result = run_cli("cls", "train", "--out", tmp_path / "run")
    assert result.exit_code == 2 and f"--out {tmp_path / 'run'}: is a file, not a folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
