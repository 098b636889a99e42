"""`cathx cls synth|train|val|predict`, and exit 2 with one clear line on bad input."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from cathx.data.chest.ranzcr import LABELS
from cathx.models.classifier import ClassifierConfig, build_classifier
from cathx.training.classification import save_classifier

@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on a shared 2-core machine more threads only contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)



@pytest.fixture(scope="module")
def chest_set(tmp_path_factory):
    from cathx.data.chest.synthetic import write_chest_dataset

    return write_chest_dataset(tmp_path_factory.mktemp("cls") / "data", 8, size=64, seed=1, workers=1)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "classifier.pt"
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
    assert (tmp_path / "run" / "classifier.pt").is_file()
    assert "mean (column-wise)" in result.stdout


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
