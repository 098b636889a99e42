"""Every smp baseline x encoder builds, returns CathMTL's output dict and back-propagates."""

from __future__ import annotations

import pytest
import torch

from cathx.models.baselines import BASELINES, ENCODERS, SmpBaseline, build_baseline, normalize_tasks, to_stride

ARCHITECTURES = sorted(name for name in BASELINES if not name.startswith("seed_"))


def _input(name: str) -> torch.Tensor:
    size = max(64, BASELINES[name].min_size)
    # Batch 2: DeepLabV3's image-pooling branch applies BatchNorm to a 1x1 map, which needs more than
    # one value per channel in training mode.
    return torch.rand(2, 1, size, size)


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_forward_backward_multitask(name, encoder):
    torch.manual_seed(0)
    model = build_baseline(name, encoder=encoder, tasks="multitask", head_width=16)
    image = _input(name)
    out = model(image)
    size = image.shape[-1]
    assert set(out) == {"mask", "heatmap", "size"}
    assert out["mask"].shape == (2, 1, size, size)
    assert out["heatmap"].shape == (2, 1, size // 4, size // 4)
    assert out["size"].shape == (2, 2, size // 4, size // 4)
    loss = sum(value.float().mean() for value in out.values())
    loss.backward()
    first_conv = next(p for p in model.net.encoder.parameters() if p.dim() == 4)
    assert first_conv.shape[1] == 1  # one input channel
    assert first_conv.grad is not None and torch.isfinite(first_conv.grad).all()
    assert model.heads["heatmap"].body[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("tasks, keys", [("segmentation", {"mask"}), ("detection", {"heatmap", "size"})])
def test_single_task_outputs_only_its_keys(tasks, keys):
    model = build_baseline("fpn", encoder="resnet34", tasks=tasks, head_width=8).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 1, 64, 64))
    assert set(out) == keys
    names = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert ("heads" in names) == ("detection" in tasks)


def test_heatmap_starts_from_a_sparse_prior():
    model = build_baseline("unet", encoder="resnet34").eval()
    with torch.no_grad():
        heatmap = model(torch.rand(1, 1, 64, 64))["heatmap"]
    # Zero-initialised inputs to the last conv are not guaranteed, but the bias dominates at start.
    assert torch.sigmoid(heatmap).mean().item() < 0.3


def test_seed_entry_matches_the_seed_configuration():
    spec = BASELINES["seed_unet_effb2"]
    assert (spec.architecture, spec.encoder) == ("Unet", "efficientnet-b2")
    assert (spec.input_size, spec.segmentation_loss, spec.tasks) == (256, "dice", "segmentation")
    model = build_baseline("seed_unet_effb2", tasks=spec.tasks)
    assert isinstance(model, SmpBaseline) and model.encoder_name == "efficientnet-b2"
    assert model.output_stride == 4


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match=r"unknown baseline 'unet3'; choose from .*deeplabv3.*unet"):
        build_baseline("unet3")
    with pytest.raises(ValueError, match=r"unknown encoder 'resnet35'.*resnet34, efficientnet-b2"):
        build_baseline("unet", encoder="resnet35")
    with pytest.raises(ValueError, match=r"unknown task 'tracking'"):
        normalize_tasks(("segmentation", "tracking"))


def test_to_stride_pools_down_and_interpolates_up():
    fine = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert to_stride(fine, 2, 2).flatten().tolist() == [2.5, 4.5, 10.5, 12.5]
    coarse = torch.ones(1, 3, 2, 2)
    assert to_stride(coarse, 4, 4).shape == (1, 3, 4, 4)
    assert to_stride(fine, 4, 4) is fine
