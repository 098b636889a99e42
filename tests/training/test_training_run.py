"""End-to-end training on tiny synthetic data: staged run, evaluation, exact resume after SIGKILL, DDP."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cathx.data.synthetic.sequence import SyntheticReader
from cathx.errors import CathxError
from cathx.training import evaluate, train
from cathx.training.config import train_config_from_dict, train_config_to_dict

SCRIPT = Path(__file__).with_name("tiny_run.py")
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(command: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``command`` in its own process group; on a timeout kill the whole group (DDP workers too)."""
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _tiny_config(**trainer):
    return train_config_from_dict({
        "seed": 1,
        "model": {"encoder": "resnet18", "latent_channels": 16, "decoder_channels": [8, 8], "head_channels": 8},
        "data": {"size": 64, "batch_size": 4},
        "stages": [{"name": "pretrain", "tasks": "segmentation", "epochs": 1},
                   {"name": "multitask", "epochs": 1}],
        "trainer": {"progress_bar": False, "log_every_n_steps": 1, "threads": 1, **trainer},
    })


@pytest.mark.slow
def test_staged_training_then_evaluation(tmp_path):
    out = tmp_path / "run"
    best = train(_tiny_config(), out=out, train_reader=SyntheticReader(8, 64, 0),
                 val_reader=SyntheticReader(4, 64, 1))
    assert best == out / "best.pt" and best.is_file()
    for stage in ("pretrain", "multitask"):
        done = json.loads((out / "stages" / stage / "done.json").read_text())
        assert done["steps"] == 2  # 8 samples / batch 4, one epoch
    log = (out / "logs" / "multitask" / "metrics.csv").read_text()
    for column in ("train/weight/detection", "train/kappa_bar/segmentation", "train/keep_fraction", "val/score"):
        assert column in log
    pretrain_log = (out / "logs" / "pretrain" / "metrics.csv").read_text()
    assert "train/weight/segmentation" in pretrain_log and "train/weight/detection" not in pretrain_log

    summary = evaluate(best, None, tmp_path / "eval", reader=SyntheticReader(3, 64, 2))
    assert summary["images"] == 3 and 0.0 <= summary["mean_j"] <= 1.0 and summary["electrodes"] > 0
    for name in ("metrics.json", "per_image.csv", "summary.md", "pr_curve.png", "worst_cases.png",
                 "training_curves.png"):
        assert (tmp_path / "eval" / name).stat().st_size > 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert set(metrics) >= {"mean_j", "dice", "cldice", "ap", "ap50", "mae", "recall3", "recall5", "pr_curve"}
    assert len((tmp_path / "eval" / "per_image.csv").read_text().splitlines()) == 4

    with pytest.raises(CathxError, match="already holds a training run; pass --resume"):
        train(_tiny_config(), out=out, train_reader=SyntheticReader(8, 64, 0))
    # resuming a finished run trains nothing more and returns the same best weights
    assert train(_tiny_config(), out=out, resume=True, train_reader=SyntheticReader(8, 64, 0)) == best


@pytest.mark.slow
def test_a_run_stopped_by_its_budget_mid_epoch_resumes_every_remaining_step(tmp_path):
    """8 samples, batch 2, two epochs: 8 steps. A 6-second budget spent during the first step (a
    callback sleeps) stops the run at step 2, mid-epoch; resumed with a larger budget it must
    train steps 3-8 and finish. Before, the checkpoint written after fit() marked the cut epoch finished: the resume
    trained only the second epoch and stopped at step 6 of 8, unfinished."""
    import lightning as L

    class SlowFirstStep(L.Callback):
        def on_train_batch_end(self, trainer, *args, **kwargs):
            if trainer.global_step == 1:
                time.sleep(7.0)

    config = train_config_from_dict({
        "seed": 1,
        "model": {"encoder": "resnet18", "latent_channels": 16, "decoder_channels": [8, 8], "head_channels": 8},
        "data": {"size": 64, "batch_size": 2},
        "stages": [{"name": "multitask", "epochs": 2}],
        "trainer": {"progress_bar": False, "log_every_n_steps": 1, "threads": 1, "checkpoint_every_n_steps": 0},
    })
    out = tmp_path / "run"
    train(config, out=out, max_minutes=0.1, train_reader=SyntheticReader(8, 64, 0), callbacks=[SlowFirstStep()])
    stage = out / "stages" / "multitask"
    assert not (stage / "done.json").exists()
    cut = torch.load(stage / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert cut["global_step"] == 2
    # the same budget again: the stage's 7 s of training count, so it stops at once, at the same step
    train(config, out=out, resume=True, max_minutes=0.1, train_reader=SyntheticReader(8, 64, 0))
    assert torch.load(stage / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] <= 3
    train(config, out=out, resume=True, max_minutes=5, train_reader=SyntheticReader(8, 64, 0))
    assert json.loads((stage / "done.json").read_text())["steps"] == 8


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    run = [sys.executable, str(SCRIPT)]
    # the uninterrupted reference runs in this process (same single thread, same seeds)
    spec = importlib.util.spec_from_file_location("tiny_run", SCRIPT)
    tiny_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny_run)
    assert tiny_run.main([str(reference), "--dump", str(tmp_path / "reference.pt")]) == 0
    # 8 samples, batch 2: 4 steps per epoch; hang (and be killed) in the middle of epoch 2
    process = subprocess.Popen([*run, str(killed), "--hang-at-step", "5"], env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (killed / "hanging").exists():
            assert process.poll() is None, "training subprocess ended before reaching the step"
            assert time.monotonic() < deadline
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    # the mid-epoch checkpoint holds only what the safe loader accepts (the resume below loads it so)
    checkpoint = torch.load(killed / "stages" / "multitask" / "checkpoints" / "last.ckpt", map_location="cpu",
                            weights_only=True)
    assert checkpoint["global_step"] == 5 and checkpoint["prioritizer"]["step"] == 5

    resumed_run = _run([*run, str(killed), "--resume", "--dump", str(tmp_path / "resumed.pt")])
    assert resumed_run.returncode == 0, resumed_run.stderr[-2000:]
    expected, resumed = _load(tmp_path / "reference.pt.rank0"), _load(tmp_path / "resumed.pt.rank0")
    assert resumed["start_step"] == 5 and resumed["global_step"] == expected["global_step"] == 8
    for key, value in expected["model"].items():
        torch.testing.assert_close(resumed["model"][key], value, rtol=0, atol=0, msg=key)
    for key in ("step", "total_steps"):
        assert resumed["prioritizer"][key] == expected["prioritizer"][key]
    for key in ("kappa_bar", "bank", "bank_seen"):
        for task, value in expected["prioritizer"][key].items():
            torch.testing.assert_close(resumed["prioritizer"][key][task], value, rtol=0, atol=0)
    # the training log survives the resume (Lightning's CSV logger deleted it): every step once, as
    # in the uninterrupted run, the steps after the checkpoint logged by the resumed run only
    assert _logged_losses(killed) == _logged_losses(reference)


def _logged_losses(out: Path) -> list[tuple[int, str]]:
    import csv

    with (out / "logs" / "multitask" / "metrics.csv").open(newline="") as handle:
        return sorted((int(row["step"]), row["train/loss"]) for row in csv.DictReader(handle) if row.get("train/loss"))


@pytest.mark.slow
def test_init_starts_the_first_stage_from_given_weights(tmp_path):
    """--init (fine-tuning): the first stage starts from the given checkpoint's weights, and weights
    of another architecture are refused with the file named."""
    import lightning as L

    from cathx.checkpoint import save_safetensors
    from cathx.models import ModelConfig, build_model

    cfg = _tiny_config()
    model_cfg = ModelConfig(**{**cfg.model, "decoder_channels": tuple(cfg.model["decoder_channels"])})
    torch.manual_seed(7)
    start = save_safetensors(tmp_path / "start.safetensors", build_model(model_cfg), model_cfg)
    seen: dict = {}

    class Capture(L.Callback):
        def on_fit_start(self, trainer, module):
            seen.setdefault("state", {k: v.clone() for k, v in module.model.state_dict().items()})

    train(cfg, out=tmp_path / "run", train_reader=SyntheticReader(4, 64, 0), callbacks=[Capture()], init=start)
    torch.manual_seed(7)
    expected = build_model(model_cfg).state_dict()
    assert set(seen["state"]) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(seen["state"][key], value)
    # --resume before the first stage wrote a checkpoint still starts from --init (not from random)
    seen.clear()
    train(cfg, out=tmp_path / "run_resumed", resume=True, train_reader=SyntheticReader(4, 64, 0),
          callbacks=[Capture()], init=start)
    for key, value in expected.items():
        torch.testing.assert_close(seen["state"][key], value)

    # --init-matching with optim.fresh_lr_factor: what the checkpoint lacks trains at its own rate
    class Rates(L.Callback):
        def on_train_start(self, trainer, module):
            seen.setdefault("rates", [group["lr"] for group in trainer.optimizers[0].param_groups])

    wider = train_config_from_dict({**train_config_to_dict(cfg), "optim": {"lr": 1e-3, "fresh_lr_factor": 3.0},
                                    "model": {**cfg.model, "decoder_channels": [16, 8]},
                                    "stages": [{"name": "multitask", "epochs": 1, "lr": 1e-3}]})
    train(wider, out=tmp_path / "run_wider", train_reader=SyntheticReader(4, 64, 0), callbacks=[Rates()],
          init=start, init_matching=True)
    assert seen["rates"] == pytest.approx([1e-3, 3e-3])

    other = ModelConfig(**{**cfg.model, "decoder_channels": (16, 8)})
    wrong = save_safetensors(tmp_path / "other.safetensors", build_model(other), other)
    with pytest.raises(CathxError, match=r"other\.safetensors: weights do not fit this config's network"):
        train(cfg, out=tmp_path / "run2", train_reader=SyntheticReader(4, 64, 0), init=wrong)


def test_init_of_another_architecture_is_refused_before_data_is_generated(tmp_path, monkeypatch):
    """Without --data, training first generates its synthetic frames (minutes); weights that cannot
    fit the network are refused before that, naming the file."""
    import cathx.training.run as run
    from cathx.checkpoint import save_safetensors
    from cathx.models import ModelConfig, build_model

    cfg = _tiny_config()
    other = ModelConfig(**{**cfg.model, "decoder_channels": (16, 8)})
    wrong = save_safetensors(tmp_path / "other.safetensors", build_model(other), other)
    generated = []
    monkeypatch.setattr(run, "ensure_synthetic", lambda cfg, folder: generated.append(folder) or folder)
    with pytest.raises(CathxError, match=r"other\.safetensors: weights do not fit this config's network"):
        train(cfg, out=tmp_path / "run", init=wrong)
    assert generated == []


@pytest.mark.slow
def test_lightning_loads_the_resume_checkpoint_without_unpickling(tmp_path, monkeypatch):
    """Past cathx's own check (switched off here), Lightning still loads last.ckpt with
    weights_only=True, passed explicitly: a payload in it is refused and never runs, even where
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD turns torch.load's default (weights_only=None) into a full
    unpickle."""
    import pathlib
    import pickle

    import cathx.training.run as run

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (tmp_path / "pwned",))

    cfg = _tiny_config()
    last = tmp_path / "run" / "stages" / "pretrain" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    torch.save({"state_dict": {}, "loops": {}, "x": Payload()}, last)
    monkeypatch.setattr(run, "check_resume_checkpoint", lambda path: None)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        train(cfg, out=tmp_path / "run", resume=True, train_reader=SyntheticReader(4, 64, 0))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_weight_ema_is_what_validation_checkpoints_and_export_hold(tmp_path):
    """trainer.ema_decay: the exported weights (best.pt, the stage's model.pt) are the exponential
    average (with warm-up) of the weights after each optimizer step, worked out here from the
    captured steps; the checkpoint keeps the trained weights beside it for resuming."""
    import lightning as L

    from cathx.checkpoint import load_model
    from cathx.training.trainer import averaged_module

    decay = 0.5
    cfg = train_config_from_dict({
        "seed": 1,
        "model": {"encoder": "resnet18", "latent_channels": 16, "decoder_channels": [8, 8], "head_channels": 8},
        "data": {"size": 64, "batch_size": 2},
        "stages": [{"name": "multitask", "epochs": 1}],
        "trainer": {"progress_bar": False, "log_every_n_steps": 1, "threads": 1, "ema_decay": decay},
    })
    steps: list[dict] = []
    running: list[dict] = []  # averaged_module's weights after each step (the time-to-accuracy snapshots)

    class Capture(L.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            steps.append({k: v.detach().clone() for k, v in module.model.state_dict().items()})
            running.append({k: v.detach().clone() for k, v in averaged_module(trainer, module).model.state_dict().items()})

    out = tmp_path / "run"
    best = train(cfg, out=out, train_reader=SyntheticReader(8, 64, 0), val_reader=SyntheticReader(2, 64, 1),
                 callbacks=[Capture()])
    assert len(steps) == 4  # 8 samples / batch 2
    name = "encoder.conv1.weight" if "encoder.conv1.weight" in steps[0] else next(
        k for k, v in steps[0].items() if v.is_floating_point() and v.dim() == 4)
    expected = steps[0][name]
    # warm-up decays min(0.5, (1 + n) / (10 + n)) for n = 1, 2, 3 averaged steps before
    for d, state in zip((2 / 11, 3 / 12, 4 / 13), steps[1:]):
        expected = d * expected + (1 - d) * state[name]
    assert not torch.allclose(expected, steps[-1][name])  # the average is not the last step's weights
    torch.testing.assert_close(running[-1][name], expected)
    for path in (best, out / "stages" / "multitask" / "model.pt"):
        model, _ = load_model(path)
        torch.testing.assert_close(model.state_dict()[name], expected, msg=str(path))
    last = torch.load(out / "stages" / "multitask" / "checkpoints" / "last.ckpt", map_location="cpu",
                      weights_only=True)
    torch.testing.assert_close(last["state_dict"][f"model.{name}"], expected)
    torch.testing.assert_close(last["current_model_state"][f"model.{name}"], steps[-1][name])
    metrics = (out / "logs" / "multitask" / "metrics.csv").read_text()
    assert "val/score" in metrics


def test_warmup_decay_follows_the_weights_first_then_settles():
    from cathx.training.trainer import warmup_decay

    assert warmup_decay(0.99, 0) == pytest.approx(0.1)
    assert warmup_decay(0.99, 10) == pytest.approx(11 / 20)
    assert warmup_decay(0.99, 100) == pytest.approx(101 / 110)
    assert warmup_decay(0.99, 10_000) == 0.99


@pytest.mark.parametrize("decay", [1.0, -0.1])
def test_weight_ema_decay_outside_zero_one_is_a_config_error(decay):
    from cathx.config import ConfigError

    with pytest.raises(ConfigError, match=rf"trainer\.ema_decay: must be in \[0, 1\) \(0 = no weight average\), got {decay}"):
        train_config_from_dict({"trainer": {"ema_decay": decay}})


def test_matching_weights_keeps_same_name_and_shape_only():
    from cathx.training.run import matching_weights

    state = {"a": torch.zeros(2, 3), "b": torch.zeros(4), "gone": torch.zeros(1)}
    own = {"a": torch.ones(2, 3), "b": torch.ones(5), "new": torch.ones(2)}
    kept, fresh = matching_weights(state, own)
    assert list(kept) == ["a"] and fresh == ["b", "new"]


def test_init_matching_transfers_what_fits_and_refuses_nothing_fitting(tmp_path, caplog):
    import logging
    from types import SimpleNamespace

    from cathx.checkpoint import save_safetensors
    from cathx.models import build_model, model_profile
    from cathx.training.run import _load_weights

    torch.manual_seed(0)
    narrow_cfg = model_profile("demo", latent_channels=16, decoder_channels=(8, 8), head_channels=8)
    narrow = build_model(narrow_cfg)
    path = save_safetensors(tmp_path / "narrow.safetensors", narrow, narrow_cfg)
    wide = build_model(model_profile("demo", latent_channels=16, decoder_channels=(16, 8), head_channels=8))
    with pytest.raises(CathxError, match=r"narrow\.safetensors: weights do not fit .* \(or pass --init-matching\)"):
        _load_weights(SimpleNamespace(model=wide), path)
    with caplog.at_level(logging.INFO, logger="cathx.training.run"):
        _load_weights(SimpleNamespace(model=wide), path, matching=True)
    for name, value in wide.state_dict().items():
        source = narrow.state_dict()[name]
        if name.startswith("encoder"):  # the same encoder: every tensor transferred
            torch.testing.assert_close(value, source)
    assert "tensors transferred" in caplog.text and "start fresh" in caplog.text
    # the fresh names are parameters of the decoder (no buffers), for optim.fresh_lr_factor
    module = SimpleNamespace(model=wide)
    _load_weights(module, path, matching=True)
    wide_parameters = dict(wide.named_parameters())
    assert module.fresh_parameters and all(name in wide_parameters for name in module.fresh_parameters)
    assert not any(name.startswith("encoder") for name in module.fresh_parameters)
    # load=False (a resumed stage) names them without touching the weights
    before = {k: v.clone() for k, v in wide.state_dict().items()}
    fresh_wide = build_model(model_profile("demo", latent_channels=16, decoder_channels=(16, 8), head_channels=8))
    fresh_wide.load_state_dict(before)
    torch.nn.init.constant_(next(fresh_wide.parameters()), 7.0)
    naming_only = SimpleNamespace(model=fresh_wide)
    _load_weights(naming_only, path, matching=True, load=False)
    assert naming_only.fresh_parameters == module.fresh_parameters
    assert float(next(fresh_wide.parameters()).flatten()[0]) == 7.0
    other = torch.nn.Module()
    other.lonely = torch.nn.Linear(3, 2)  # no name in common with a CathMTL network
    with pytest.raises(CathxError, match=r"narrow\.safetensors: no weights match this config's network"):
        _load_weights(SimpleNamespace(model=other), path, matching=True)


def test_fresh_lr_factor_must_be_positive():
    from cathx.config import ConfigError

    with pytest.raises(ConfigError, match=r"optim\.fresh_lr_factor: must be positive, got 0"):
        train_config_from_dict({"optim": {"fresh_lr_factor": 0}})


def test_heatmap_sigma_floor_must_be_positive():
    from cathx.config import ConfigError

    with pytest.raises(ConfigError, match=r"loss\.min_sigma: must be positive \(heatmap cells\), got -0\.5"):
        train_config_from_dict({"loss": {"min_sigma": -0.5}})


def test_ensure_synthetic_generates_with_two_processes_where_the_cpus_allow(tmp_path, monkeypatch):
    import cathx.data.synthetic.writer as writer
    from cathx.training.run import ensure_synthetic

    calls = []
    monkeypatch.setattr(writer, "write_dataset", lambda folder, **kwargs: calls.append(kwargs))
    cfg = _tiny_config()
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # count from cpu_count alone
    for cpus, expected in ((1, 1), (2, 2), (64, 2), (None, 1)):
        monkeypatch.setattr(os, "cpu_count", lambda cpus=cpus: cpus)
        ensure_synthetic(cfg, tmp_path / "data")
        assert calls[-1]["workers"] == expected
        assert calls[-1]["n"] == cfg.data.synthetic.n and calls[-1]["seed"] == cfg.data.synthetic.seed
    # A folder that already holds files is the dataset: nothing is generated again.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "annotations.json").write_text("{}")
    ensure_synthetic(cfg, tmp_path / "data")
    assert len(calls) == 4
