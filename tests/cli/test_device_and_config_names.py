"""--device on predict, bench, val, app and train; shipped configs by name; bench writes a new folder under runs/."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from cathx.config import bundled_configs, resolve_config

NO_CUDA = not torch.cuda.is_available()


ANY_DEVICE = "--device 'tpu': choose from cpu, cuda, cuda:N, auto"


@pytest.mark.parametrize(("command", "message"), [
    ("predict {image} -w {weights} -o {out} --device tpu", ANY_DEVICE),
    ("bench -m demo --device tpu -o {out}", ANY_DEVICE),
    ("val -w {weights} -d {data} -o {out} --device tpu", ANY_DEVICE),
    ("app --device tpu", ANY_DEVICE),
    ("train --config demo --device tpu --out {out}", "--device 'tpu': choose from cpu, cuda, auto"),
])
def test_unknown_device_is_one_line_and_exit_2(run_cli, tiny_checkpoint, tmp_path, command, message):
    cv2.imwrite(str(tmp_path / "f.png"), np.zeros((40, 40), np.uint8))
    args = command.format(image=tmp_path / "f.png", weights=tiny_checkpoint, out=tmp_path / "out",
                          data=tmp_path).split()
    result = run_cli(*args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {message}"]
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.skipif(not NO_CUDA, reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda_says_so(run_cli, tiny_checkpoint, tmp_path):
    cv2.imwrite(str(tmp_path / "f.png"), np.zeros((40, 40), np.uint8))
    result = run_cli("predict", tmp_path / "f.png", "-w", tiny_checkpoint, "-o", tmp_path / "out", "--device", "cuda")
    assert result.exit_code == 2 and "--device 'cuda': CUDA is not available" in result.stderr


def test_predict_records_the_device(run_cli, tiny_checkpoint, tmp_path):
    cv2.imwrite(str(tmp_path / "f.png"), np.zeros((40, 40), np.uint8))
    result = run_cli("predict", tmp_path / "f.png", "-w", tiny_checkpoint, "-o", tmp_path / "out", "--device", "auto")
    assert result.exit_code == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["device"] == ("cpu" if NO_CUDA else "cuda") and summary["frames"] == 1


def test_bench_writes_a_new_folder_under_runs_by_default(run_cli, tmp_path, monkeypatch):
    import cathx.benchmarking.latency as bench

    seen = []
    monkeypatch.setattr(bench, "run_bench", lambda **kwargs: seen.append(kwargs) or {"markdown": "timed"})
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        result = run_cli("bench", "-m", "demo", "--device", "cpu")
        assert result.exit_code == 0, result.stderr
    first, second = (call["out"] for call in seen)
    assert first.parent == second.parent == tmp_path.joinpath("runs", "bench").relative_to(tmp_path)
    assert first != second and first.is_dir() and second.is_dir()
    assert seen[0]["device"] == "cpu" and "results in runs/bench/" in result.stdout
    assert seen[0]["precisions"] is None  # run_bench's default: auto
    result = run_cli("bench", "-m", "demo", "--precision", "fp32", "--precision", "bf16")
    assert result.exit_code == 0 and seen[-1]["precisions"] == ["fp32", "bf16"]
    result = run_cli("bench", "-m", "demo", "--precision", "fp16")
    assert result.exit_code == 2 and result.stderr.strip() == "error: --precision 'fp16': choose from auto, fp32, bf16"


def test_shipped_configs_resolve_by_name_and_paths_still_work(tmp_path):
    assert {"demo", "paper", "cathx_fluoro", "chest_demo"} <= set(bundled_configs())
    assert resolve_config("demo").name == "demo.yaml" and resolve_config("demo.yaml").is_file()
    own = tmp_path / "demo.yaml"
    own.write_text("seed: 1\n")
    assert resolve_config(own) == own  # an existing path wins over the shipped name


def test_unknown_config_name_lists_the_shipped_ones(run_cli, tmp_path):
    result = run_cli("train", "--config", "demoo", "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert "demoo: no such config file or shipped config; shipped configs: benchmark" in result.stderr
    result = run_cli("demo", "--config", "nope", "--out", tmp_path / "demo")
    assert result.exit_code == 2 and "shipped configs:" in result.stderr


def test_train_device_sets_the_accelerator():
    from cathx.cli.train import _with_device
    from cathx.training.config import load_train_config

    cfg = load_train_config(resolve_config("demo"))
    assert _with_device(cfg, None) is cfg
    assert _with_device(cfg, "cpu").trainer.accelerator == "cpu"
    assert _with_device(cfg, "auto").trainer.accelerator == ("cpu" if NO_CUDA else "gpu")
    assert _with_device(cfg, "cpu").data == cfg.data  # nothing else changes


@pytest.mark.parametrize("name", bundled_configs())
def test_every_bundled_config_loads_with_its_loader(name):
    """A recipe a doc points at must parse: chest configs as `cathx cls train` reads them, the others
    as `cathx train` does, plus their `benchmark:` section as `cathx benchmark` does."""
    from cathx.cli.benchmark import load_benchmark_config
    from cathx.training.chest_config import load_cls_config
    from cathx.training.config import load_train_config, train_config_from_dict

    path = resolve_config(name)
    if "chest" in name:
        assert load_cls_config(path).data.image_size > 0
    elif "\nbenchmark:" in path.read_text():
        recipe, section = load_benchmark_config(path)
        assert train_config_from_dict(recipe, where=str(path)).stages and section.budget_minutes > 0
    else:
        assert load_train_config(path).stages
