import torch
from torch import nn

from cathx.models import MODEL_PROFILES, build_model
from cathx.models.complexity import complexity_report, count_flops, count_parameters


def test_conv_flops_hand_computed():
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    # 2 output channels x 8 x 8 positions x 9 multiply-adds x 2 FLOPs.
    assert count_flops(conv, size=8) == 2 * 8 * 8 * 9 * 2
    assert count_parameters(conv) == 18


def test_paper_profile_complexity():
    model = build_model(MODEL_PROFILES["paper"])
    report = complexity_report(model, size=256)
    # ResNet34 up to res4 (8.2 M) + 3x3 projection to 512 (1.2 M) + decoder + heads.
    assert 11e6 < report["parameters"] < 14e6
    assert 15 < report["gflops"] < 25
    assert model.training  # restored after counting
    assert torch.is_grad_enabled()
