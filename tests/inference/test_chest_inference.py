"""Chest prediction on files: Grad-CAM on a model worked out by hand, overlays, image listing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cathx.errors import CathxError
from cathx.inference.chest import grad_cam, heatmap_overlay, list_images, unit_range


class _MeanModel(nn.Module):
    """logits[:, k] = w_k * mean(cam_layer(s * image)) with s = 1 (a parameter, so that the
    feature map takes part in the graph, as a backbone's does): the gradient of label k's logit
    with respect to the feature map is w_k / (H W) at every pixel, so Grad-CAM = ReLU(w_k / (H W) * image)."""

    def __init__(self, weights: list[float]) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.cam_layer = nn.Identity()
        self.weights = nn.Parameter(torch.tensor(weights))

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.cam_layer(self.scale * image).mean(dim=(1, 2, 3))[:, None] * self.weights}


def test_grad_cam_hand_computed():
    image = torch.tensor([[1.0, 2.0], [4.0, 5.0]])[None, None]
    model = _MeanModel([2.0, -1.0])
    # label 0: ReLU(2/4 * image) = [[0.5, 1], [2, 2.5]], min-max scaled: (x - 0.5) / 2 (peak -> 1,
    # not 0 as MONAI's default normaliser would have it)
    np.testing.assert_allclose(grad_cam(model, image, 0), [[0.0, 0.25], [0.75, 1.0]], atol=1e-6)
    # label 1: ReLU(-1/4 * image) = 0 everywhere: a flat map stays 0, no division by 0
    cam = grad_cam(model, image, 1)
    assert cam.dtype == np.float32 and (cam == 0).all()
    assert model.weights.grad is None and not model.training  # no gradients left; eval mode


def test_unit_range_per_map():
    maps = torch.tensor([[[[2.0, 4.0], [3.0, 6.0]]], [[[7.0, 7.0], [7.0, 7.0]]]])
    np.testing.assert_allclose(unit_range(maps)[0, 0], [[0.0, 0.5], [0.25, 1.0]])
    assert (unit_range(maps)[1] == 0).all()


def test_heatmap_overlay_is_bgr_of_the_image_size_and_blends():
    image = np.zeros((20, 30), np.float32)
    cam = np.zeros((5, 5), np.float32)
    blended = heatmap_overlay(image, cam)
    assert blended.shape == (20, 30, 3) and blended.dtype == np.uint8
    # black image, cam 0 -> JET's dark blue (128, 0, 0) BGR at 40 %: (51, 0, 0)
    assert tuple(blended[10, 10]) == (51, 0, 0)


def test_list_images_sorted_and_bad_inputs(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.png"]
    assert list_images(tmp_path / "b.png") == [tmp_path / "b.png"]
    with pytest.raises(CathxError, match="notes.txt: not an image"):
        list_images(tmp_path / "notes.txt")
    with pytest.raises(CathxError, match="nowhere: no such file or folder"):
        list_images(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CathxError, match="empty: no .jpg/.jpeg/.png images or .dcm files in this folder"):
        list_images(tmp_path / "empty")
