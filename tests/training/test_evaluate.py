"""``cathx val`` (training.evaluate) reports mean J as the per-image IoU averaged, not the mean
Dice or the pooled IoU: a stand-in model predicts exactly the bright pixels of each image."""

from __future__ import annotations

import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from torch import nn

SIZE = 256  # evaluate's default input size when the weights carry no config: no resampling


class BrightIsCatheter(nn.Module):
    """Mask logits +10 where the image is 1, -10 where it is 0."""

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"mask": (image - 0.5) * 20.0}


@pytest.fixture
def stand_in_model(monkeypatch):
    import cathx.checkpoint

    stand_in = (BrightIsCatheter(), SimpleNamespace(encoder="stand-in"))
    monkeypatch.setattr(cathx.checkpoint, "load_model", lambda path, *args, **kwargs: stand_in)
    monkeypatch.setattr(cathx.checkpoint, "read_checkpoint", lambda path: {"extra": {}})  # no file behind it


def two_images():
    """Image a: prediction and target of 3 px sharing 2 (IoU 2/4, Dice 4/6); image b: one
    identical pixel (IoU 1, Dice 1). Mean J 0.75, mean Dice 5/6, pooled IoU 3/5 = 0.6."""
    pred_a, target_a = np.zeros((SIZE, SIZE), np.uint8), np.zeros((SIZE, SIZE), np.uint8)
    pred_a[40, 10:13] = 1
    target_a[40, 11:14] = 1
    single = np.zeros((SIZE, SIZE), np.uint8)
    single[100, 100] = 1
    return {"a": (pred_a, target_a), "b": (single, single)}


def test_cathx_val_mean_j_is_the_per_image_iou_averaged(stand_in_model, run_cli, tmp_path):
    root = tmp_path / "set" / "test"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for name, (pred, target) in two_images().items():
        cv2.imwrite(str(root / "images" / f"{name}.png"), pred * 255)
        cv2.imwrite(str(root / "masks" / f"{name}.png"), target * 255)
    out = tmp_path / "val"
    result = run_cli("val", "--weights", tmp_path / "stand-in.pt", "--data", tmp_path / "set",
                     "--split", "test", "--out", out)
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 2
    assert metrics["mean_j"] == pytest.approx(0.75)
    assert metrics["dice"] == pytest.approx(5 / 6)
    rows = (out / "per_image.csv").read_text().splitlines()
    header = rows[0].split(",")
    ious = sorted(float(row.split(",")[header.index("iou")]) for row in rows[1:])
    assert ious == pytest.approx([0.5, 1.0])



def test_pr_curve_title_carries_the_ap50(tmp_path, monkeypatch):
    import matplotlib.axes

    from cathx.training.evaluate import write_plots

    titles = []
    original = matplotlib.axes.Axes.set

    def spy(self, *args, **kwargs):
        if "title" in kwargs:
            titles.append(kwargs["title"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "set", spy)
    write_plots(tmp_path, {"recall": [0.0, 0.5], "precision": [1.0, 0.8]}, [], [], ap50=0.4567)
    assert (tmp_path / "pr_curve.png").is_file()
    assert titles[0] == "electrodes, IoU 0.5: AP50 0.457"
    write_plots(tmp_path, {"recall": [], "precision": []}, [], [], ap50=float("nan"))
    assert titles[-1] == "electrodes, IoU 0.5"
