"""Shipped models by name (cathx.zoo): resolution, missing files, and no torch on the ONNX path."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cathx.errors import CathxError
from cathx.zoo import SHIPPED_MODELS, WEIGHTS_DIR, model_card, resolve_weights


def test_names_resolve_to_the_package_files_and_paths_pass_through(tmp_path):
    assert resolve_weights("cathx-fluoro") == WEIGHTS_DIR / SHIPPED_MODELS["cathx-fluoro"]
    assert resolve_weights(tmp_path / "mine.safetensors") == tmp_path / "mine.safetensors"
    assert model_card("cathx-chest")["name"] == "cathx-chest"


def test_an_unknown_name_lists_the_shipped_ones():
    with pytest.raises(CathxError, match="cathx-flouro: no such weights file or shipped model; shipped models: "
                                         "cathx-fluoro, cathx-chest"):
        resolve_weights("cathx-flouro")


def test_a_missing_shipped_file_is_named(monkeypatch, tmp_path):
    import cathx.zoo as zoo

    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(CathxError, match="cathx-fluoro: this install has no weights for the shipped model"):
        zoo.resolve_weights("cathx-fluoro")


@pytest.mark.slow  # exports a tiny network, then a fresh interpreter (about 5 s)
def test_an_onnx_predictor_never_imports_torch(tiny_checkpoint, tmp_path):
    """A Ray actor on --backend onnx starts without torch's and timm's imports (seconds per worker)."""
    import cv2

    from cathx.checkpoint import load_model
    from cathx.export.onnx import export_onnx

    export_onnx(load_model(tiny_checkpoint)[0], tmp_path / "tiny.onnx", input_size=64)
    cv2.imwrite(str(tmp_path / "frame.png"), np.zeros((64, 64), np.uint8))
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from cathx.inference.batch import predict_input\n"
        "from cathx.inference.predictor import Predictor\n"
        f"path = Path({str(tmp_path)!r})\n"
        "predictor = Predictor.from_checkpoint(path / 'tiny.onnx', backend='onnx', threads=1)\n"
        "frames = predict_input(path / 'frame.png', path / 'out', path / 'tiny.onnx', predictor, video=False,\n"
        "                       bit_depth=None, device='cpu')\n"
        "print(frames, sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "1 []"


def test_a_shipped_name_with_its_file_suffix_says_to_drop_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file of that name here
    with pytest.raises(CathxError, match=r"cathx-fluoro\.safetensors: no such weights file; the shipped model is "
                                         r"named 'cathx-fluoro', without \.safetensors; shipped models: "):
        resolve_weights("cathx-fluoro.safetensors")
