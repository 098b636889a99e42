"""`cathx train` and `cathx val`: a tiny run on a written dataset, and bad input."""

from __future__ import annotations

import json

import pytest
import yaml
from tiny_configs import TINY_TRAIN


def _config(tmp_path, data=TINY_TRAIN, name="tiny.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from cathx.data.synthetic.writer import write_dataset

    return write_dataset(tmp_path_factory.mktemp("data") / "synthetic", n=12, size=64, seed=0, workers=1)


def test_train_then_val(run_cli, tmp_path, dataset):
    out = tmp_path / "run"
    result = run_cli("train", "--config", _config(tmp_path), "--data", dataset, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert "best weights" in result.stdout and (out / "best.pt").is_file()
    assert json.loads((out / "stages" / "multitask" / "done.json").read_text())["steps"] == 2

    again = run_cli("train", "--config", _config(tmp_path), "--data", dataset, "--out", out)
    assert again.exit_code == 2 and "pass --resume" in again.stderr

    result = run_cli("val", "-w", out / "best.pt", "-d", dataset, "-o", tmp_path / "eval", "--device", "cpu",
                     "--precision", "fp32")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["images"] >= 1 and metrics["split"] == "test" and metrics["tta"] == "none"
    assert metrics["precision"] == "fp32"
    assert "mean J" in result.stdout
    result = run_cli("val", "-w", out / "best.pt", "-d", dataset, "-o", tmp_path / "eval_tta", "--tta")
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "eval_tta" / "metrics.json").read_text())["tta"] == "flip (mask)"
    assert "test-time augmentation: flip (mask)" in (tmp_path / "eval_tta" / "summary.md").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochz": 3}, "unknown key 'epochz'; valid keys: data, loss, model, name, optim"),
        ({"prioritization": {"sample_selection": "random"}},
         "sample_selection: invalid value 'random'; choose from none, soft, hard, fixed-30"),
        ({"prioritization": {"task_weighting": "uncertainty"}}, "choose from dtp-kpi, constant, gradnorm, dtp"),
        ({"model": {"encoder": "resnet999"}}, "model.encoder: invalid value 'resnet999'"),
        ({"prioritization": {"alpha": 0.0}}, "prioritization.alpha: must be in (0, 1]"),
    ],
)
def test_bad_config_is_one_line_naming_the_problem(run_cli, tmp_path, change, message):
    path = _config(tmp_path, {**TINY_TRAIN, **change}, "bad.yaml")
    result = run_cli("train", "--config", path, "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert message in result.stderr.replace("\n", "") and "bad.yaml" in result.stderr


def test_missing_files_exit_2(run_cli, tmp_path):
    result = run_cli("train", "--config", tmp_path / "none.yaml")
    assert result.exit_code == 2 and "none.yaml: config file not found" in result.stderr
    result = run_cli("train", "--config", _config(tmp_path), "--data", tmp_path / "nodata")
    assert result.exit_code == 2 and "nodata: dataset not found" in result.stderr
    result = run_cli("val", "--weights", tmp_path / "w.pt", "--data", tmp_path, "--out", tmp_path / "e")
    assert result.exit_code == 2 and "w.pt: checkpoint not found" in result.stderr
    result = run_cli("val", "--weights", tmp_path / "w.pt", "--data", tmp_path, "--out", tmp_path / "e",
                     "--precision", "fp16")
    assert result.exit_code == 2 and "--precision 'fp16': choose from auto, fp32, bf16" in result.stderr


def test_val_reports_skipped_samples(run_cli, tmp_path, dataset, tiny_checkpoint):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    document = json.loads((copy / "annotations.json").read_text())
    tests = [record for record in document["images"] if record.get("split") == "test"]
    (copy / tests[0]["file_name"]).unlink()
    result = run_cli("val", "--weights", tiny_checkpoint, "--data", copy, "--out", tmp_path / "eval")
    assert result.exit_code == 0, result.stderr
    assert "data: 1 sample(s) skipped, 1 problem(s) while reading:" in result.stdout
    assert f"{tests[0]['file_name'].split('/')[-1]}: listed in annotations.json but missing (skipped)" in result.stdout
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["skipped"] == 1 and metrics["images"] == len(tests) - 1
    assert "Skipped: 1 sample(s)" in (tmp_path / "eval" / "summary.md").read_text()


def test_train_types_fits_the_head_and_refuses_bad_input(run_cli, tmp_path, dataset, tiny_checkpoint):
    result = run_cli("train-types", "--data", dataset, "--init", tiny_checkpoint, "--out", tmp_path / "types",
                     "--epochs", "1", "--batch-size", "2", "--threads", "1")
    assert result.exit_code == 0, result.stderr
    assert "best weights:" in result.stdout and (tmp_path / "types" / "best.pt").is_file()
    # a random network finds no catheters to learn the type decision from: said, not fatal
    assert "learned type decision not fitted" in result.stdout and "0 labelled catheters" in result.stdout
    result = run_cli("train-types", "--data", tmp_path / "nodata", "--init", tiny_checkpoint)
    assert result.exit_code == 2 and "nodata: dataset not found" in result.stderr
    result = run_cli("train-types", "--data", dataset, "--init", "no-such-model", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "no-such-model: no such weights file or shipped model" in result.stderr
    result = run_cli("train-types", "--data", dataset, "--init", tiny_checkpoint, "--epochs", "0",
                     "--out", tmp_path / "y")
    assert result.exit_code == 2 and "epochs must be at least 1" in result.stderr


def test_resume_without_data_uses_the_runs_dataset(run_cli, tmp_path, dataset):
    """run.json keeps --data: a resume that omits it trains on the same dataset, never on a
    synthetic set generated in its place; a recorded dataset missing here asks for --data."""
    out = tmp_path / "run"
    result = run_cli("train", "--config", _config(tmp_path), "--data", dataset, "--out", out)
    assert result.exit_code == 0, result.stderr
    record = json.loads((out / "run.json").read_text())
    assert record == {"data": [str(dataset.resolve())], "init": None, "init_matching": False}
    result = run_cli("train", "--config", _config(tmp_path), "--out", out, "--resume")
    assert result.exit_code == 0, result.stderr
    assert not (out / "data").exists()  # no synthetic set was generated in the dataset's place
    record["data"] = [str(tmp_path / "elsewhere")]
    (out / "run.json").write_text(json.dumps(record))
    result = run_cli("train", "--config", _config(tmp_path), "--out", out, "--resume")
    assert result.exit_code == 2
    assert f"{out}: the run trained on --data {tmp_path / 'elsewhere'}, which is not on this machine; " \
           "give --data with the dataset's path here" in result.stderr


def test_init_without_config_fine_tunes_the_weights_own_network(run_cli, tmp_path, monkeypatch):
    """`cathx train --init cathx-fluoro --data mine` (the README's fine-tuning line): the network
    is the one the weights record (type head, input normalisation), the recipe configs/finetune.yaml;
    with a config of another architecture the same weights were refused."""
    import cathx.training as training
    from cathx.checkpoint import read_checkpoint
    from cathx.cli.train import finetune_config

    cfg = finetune_config("cathx-fluoro")
    recorded = read_checkpoint("cathx-fluoro")["model_config"]
    assert cfg.model["type_head"] is True and cfg.model["input_norm"] == recorded["input_norm"]
    assert {k: cfg.model[k] for k in recorded if k != "encoder_weights"} == {
        k: v for k, v in recorded.items() if k != "encoder_weights"}
    assert cfg.stages[0].lr == pytest.approx(1e-4)
    seen = {}
    monkeypatch.setattr(training, "train", lambda cfg, **kwargs: seen.update(cfg=cfg, **kwargs) or tmp_path / "best.pt")
    result = run_cli("train", "--init", "cathx-fluoro", "--data", tmp_path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    assert seen["init"] == "cathx-fluoro" and seen["cfg"].model == cfg.model
    result = run_cli("train", "--out", tmp_path / "run2")
    assert result.exit_code == 2 and "--config: give an experiment YAML" in result.stderr
