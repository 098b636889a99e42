"""Chest classifiers: every variant and backbone family on 1x1x64x64, and helpful errors."""

from __future__ import annotations

import pytest
import torch

from cathx.models.classifier import CLASSIFIERS, ClassifierConfig, build_classifier, check_backbone

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.mark.parametrize("kind", sorted(CLASSIFIERS))
def test_variants_forward_backward(kind):
    torch.manual_seed(0)
    model = build_classifier(ClassifierConfig(kind=kind, backbone="rexnet_100", backbone_args={"width_mult": 0.5}))
    out = model(torch.rand(2, 1, 64, 64))
    assert out["logits"].shape == (2, 11)
    if kind == "seg_aided":
        assert out["mask"].shape == (2, 4, 16, 16)
    else:
        assert set(out) == {"logits"}
    loss = out["logits"].sum() + out.get("mask", torch.zeros(())).sum()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("backbone", ["rexnet_100", "efficientnet_b0", "resnest14d", "legacy_seresnet18",
                                      "seresnext26d_32x4d"])
def test_backbone_families(backbone):
    model = build_classifier(ClassifierConfig(kind="seg_aided", backbone=backbone)).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 1, 64, 64))
    assert out["logits"].shape == (1, 11) and out["mask"].shape == (1, 4, 16, 16)


def test_multi_head_groups_map_to_labels():
    model = build_classifier(ClassifierConfig(kind="multi", backbone="rexnet_100")).eval()
    assert [head.fc.out_features for head in model.heads] == [3, 4, 3, 1]


def test_helpful_errors():
    with pytest.raises(ValueError, match="unknown backbone 'resnet50'; choose a timm model of the families"):
        check_backbone("resnet50")
    with pytest.raises(ValueError, match="unknown backbone 'rexnet_999'; timm .* has e.g. rexnet_100"):
        check_backbone("rexnet_999")
    with pytest.raises(ValueError, match="unknown classifier 'triple'; choose from multi, seg_aided, single"):
        build_classifier(ClassifierConfig(kind="triple"))
