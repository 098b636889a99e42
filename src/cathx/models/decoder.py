"""Projection to the latent space and the top-down decoder with skip fusion down to stride 4."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Projection(nn.Module):
    """3x3 convolution without non-linearity: backbone stride-16 features -> latent features F."""

    def __init__(self, in_channels: int, latent_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, latent_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class UpBlock(nn.Module):
    """x2 bilinear upsampling, concatenation with the encoder skip, two 3x3 conv-BN-ReLU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.fuse = nn.Sequential(
            conv_bn_relu(in_channels + skip_channels, out_channels),
            conv_bn_relu(out_channels, out_channels),
        )

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.fuse(torch.cat([x, skip], dim=1))


class Decoder(nn.Module):
    """Stride 16 latent + stride 8 and 4 skips -> stride 4 feature U.

    forward(latent (B, L, H/16, W/16), skips [(B, C4, H/4, W/4), (B, C8, H/8, W/8)])
    -> (B, decoder_channels[-1], H/4, W/4).
    """

    def __init__(self, latent_channels: int, skip_channels: tuple[int, int], decoder_channels: tuple[int, int]) -> None:
        super().__init__()
        skip4, skip8 = skip_channels
        width8, width4 = decoder_channels
        self.up8 = UpBlock(latent_channels, skip8, width8)
        self.up4 = UpBlock(width8, skip4, width4)
        self.out_channels = width4

    def forward(self, latent: Tensor, skips: list[Tensor]) -> Tensor:
        skip4, skip8 = skips
        return self.up4(self.up8(latent, skip8), skip4)
