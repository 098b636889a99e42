"""Prediction heads: two 3x3 convolutions with ReLU, then a 1x1 output convolution."""

from __future__ import annotations

import math

from torch import Tensor, nn

# CenterNet's prior: heatmap logits start near sigmoid^-1(0.1) so the focal loss does not
# explode on the first steps, when almost every cell is background.
HEATMAP_PRIOR = 0.1


class Head(nn.Module):
    """(B, C, h, w) -> (B, out_channels, h, w)."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, bias_init: float = 0.0) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.out = nn.Conv2d(width, out_channels, 1)
        nn.init.constant_(self.out.bias, bias_init)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(x))


class TypeHead(nn.Module):
    """Catheter type per stride-8 cell: (B, C, h, w) -> (B, classes, h, w) logits.

    A 1x1 reduction, then dilated 3x3 convolutions (dilation 1, 2, 4, 8: a 31-cell, 248-pixel
    view) so that a cell anywhere on a catheter sees its electrode pattern, ring or tip; trained on
    catheter cells only (cathx.training.type_head), so its output means nothing away from them.
    """

    def __init__(self, in_channels: int, classes: int, width: int = 48) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 1), nn.ReLU(inplace=True)]
        for dilation in (1, 2, 4, 8):
            layers += [nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(width, classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(x))


def heatmap_bias() -> float:
    return -math.log((1 - HEATMAP_PRIOR) / HEATMAP_PRIOR)
