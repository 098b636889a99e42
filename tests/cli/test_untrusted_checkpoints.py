"""Every command that reads a torch checkpoint refuses one holding pickled code (issue 16).

A checkpoint handed over from another machine (a run folder to ``--resume``, weights to ``--init``
or ``--weights``) may be a crafted pickle. Each file here carries an object whose unpickling would
create a marker file; each command must stop with exit 2 and one line naming the file, and the
marker must never appear. Two containers: torch.save's zip (what a .ckpt / .pt is) and a bare
pickle (torch's legacy format).
"""

from __future__ import annotations

import pathlib
import pickle

import cv2
import numpy as np
import pytest
import torch
import yaml
from tiny_configs import TINY_TRAIN


class _Payload:
    """Unpickling this calls Path(marker).touch(): the stand-in for code run from a weights file."""

    marker = ""

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(_Payload.marker),))


def _plant(path: pathlib.Path, container: str, marker: pathlib.Path) -> pathlib.Path:
    """A checkpoint-looking file at ``path`` whose unpickling would create ``marker``."""
    _Payload.marker = str(marker)
    record = {"state_dict": {"model.w": torch.zeros(2)}, "loops": {}, "model_config": {}, "x": _Payload()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if container == "zip":
        torch.save(record, path)
    else:
        path.write_bytes(pickle.dumps(record, protocol=2))
    return path


def _image(folder: pathlib.Path) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "x.png"
    cv2.imwrite(str(path), (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8))
    return path


def _refused(result, path: pathlib.Path, marker: pathlib.Path, container: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if str(path) in line]
    assert len(lines) == 1, result.stderr
    # the zip is refused by the safe unpickler; the bare pickle is no torch archive to resume from,
    # and refused by the safe unpickler where cathx reads weights
    assert ("refused" in lines[0]) or (container == "pickle" and "truncated or corrupt" in lines[0]), lines[0]
    assert not marker.exists(), "the payload ran"


def _untrusted_checkpoint_is_refused_by(run_cli, tmp_path, container, command):
    marker = tmp_path / "pwned"
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_TRAIN))
    out = tmp_path / "run"
    if command == "train --resume":
        path = _plant(out / "stages" / "multitask" / "checkpoints" / "last.ckpt", container, marker)
        result = run_cli("train", "--config", config, "--out", out, "--resume")
        assert not (out / "data").exists(), "refused only after generating the synthetic set"
    else:
        path = _plant(tmp_path / "evil.pt", container, marker)
        args = {
            "train --init": ("train", "--config", config, "--out", out, "--init", path),
            "predict -w": ("predict", _image(tmp_path / "img"), "-w", path, "--out", tmp_path / "p"),
            "val -w": ("val", "-w", path, "--data", tmp_path, "--out", tmp_path / "e"),
            "cls val -w": ("cls", "val", "-w", path, "--data", tmp_path, "--out", tmp_path / "e"),
            "cls predict -w": ("cls", "predict", _image(tmp_path / "img"), "-w", path,
                               "--out", tmp_path / "p"),
        }[command]
        result = run_cli(*args)
    _refused(result, path, marker, container)
    return result


@pytest.mark.parametrize("container", ["zip", "pickle"])
@pytest.mark.parametrize("command", ["train --resume", "train --init", "predict -w", "val -w", "cls val -w",
                                     "cls predict -w"])
def test_a_checkpoint_holding_pickled_code_is_refused_and_never_run(run_cli, tmp_path, monkeypatch, container,
                                                                    command):
    # with this set, a torch.load that leaves weights_only to its default unpickles everything
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    _untrusted_checkpoint_is_refused_by(run_cli, tmp_path, container, command)


def test_resume_names_the_way_out(run_cli, tmp_path):
    """The one line says what to do with a refused last.ckpt: delete it or drop --resume."""
    result = _untrusted_checkpoint_is_refused_by(run_cli, tmp_path, "zip", "train --resume")
    assert "never unpickles" in result.stderr
    assert "delete it to restart this stage, or drop --resume" in result.stderr


def test_resume_refuses_a_torch_file_that_is_no_lightning_checkpoint(run_cli, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_TRAIN))
    last = tmp_path / "run" / "stages" / "multitask" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    torch.save({"state_dict": {"w": torch.zeros(1)}}, last)
    result = run_cli("train", "--config", config, "--out", tmp_path / "run", "--resume")
    assert result.exit_code == 2
    assert "last.ckpt: not a Lightning checkpoint of a cathx training run" in result.stderr
