"""Losses of the chest classifier: label BCE and the seg-aided line-mask loss, hand-computed."""

from __future__ import annotations

import math

import pytest
import torch

from cathx.losses.classification import classifier_losses, label_loss, line_mask_loss


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_label_loss_hand_computed():
    logits = torch.tensor([[logit(0.8), logit(0.4)]])
    labels = torch.tensor([[1.0, 0.0]])
    assert label_loss(logits, labels).item() == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2, rel=1e-6)


def test_line_mask_loss_hand_computed_per_channel_dice_on_annotated_studies():
    # Study 0 (annotated): 2 groups at 1x2 logits 0 (p = 1/2); its 2x4 target max-pools to group 0
    # [1, 0], group 1 [0, 0]. BCE = ln 2 everywhere. Soft Dice (smooth 1) per channel:
    # group 0: 1 - (2 * 0.5 + 1) / (1 + 1 + 1) = 1/3; group 1: 1 - 1 / (1 + 0 + 1) = 1/2; mean 5/12
    # (Dice pooled over both channels would be 1 - 2 / 4 = 1/2). Study 1 is not annotated: its
    # confident wrong logits and full target must not count.
    logits = torch.zeros(2, 2, 1, 2)
    logits[1] = -20.0
    target = torch.zeros(2, 2, 2, 4)
    target[0, 0, 1, 0] = 1.0
    target[1] = 1.0
    loss = line_mask_loss(logits, target, torch.tensor([True, False]))
    assert loss.item() == pytest.approx(math.log(2) + 5 / 12, rel=1e-5)


def test_line_mask_loss_only_on_annotated():
    logits = torch.zeros(2, 4, 4, 4, requires_grad=True)
    target = torch.zeros(2, 4, 16, 16)
    assert line_mask_loss(logits, target, torch.tensor([False, False])).item() == 0.0
    target[0, 1, 5, 5] = 1  # one thin line pixel survives the max-pool to 4x4
    loss = line_mask_loss(logits, target, torch.tensor([True, False]))
    loss.backward()
    assert loss.item() > 0 and logits.grad[1].abs().sum() == 0 and logits.grad[0].abs().sum() > 0


def test_classifier_losses_adds_the_mask_term_only_for_a_mask_head():
    batch = {"labels": torch.tensor([[1.0, 0.0]]), "mask": torch.zeros(1, 1, 2, 2), "has_mask": torch.tensor([True])}
    logits = torch.tensor([[logit(0.8), logit(0.4)]])
    assert set(classifier_losses({"logits": logits}, batch)) == {"cls"}
    losses = classifier_losses({"logits": logits, "mask": torch.zeros(1, 1, 1, 1)}, batch)
    assert losses["cls"].item() == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2, rel=1e-6)
    # one pixel, p = 1/2, target 0: BCE ln 2, Dice 1 - 1 / (0.5 + 0 + 1) = 1/3
    assert losses["segmentation"].item() == pytest.approx(math.log(2) + 1 / 3, rel=1e-5)


def test_line_mask_loss_is_zero_without_annotation_whatever_the_logits():
    # no study annotated: 0 (kept on the graph), not the sum of the logits (here 3 + 5 = 8)
    logits = torch.tensor([[[[3.0]]], [[[5.0]]]], requires_grad=True)
    loss = line_mask_loss(logits, torch.ones(2, 1, 2, 2), torch.tensor([False, False]))
    assert loss.item() == 0.0 and loss.requires_grad
