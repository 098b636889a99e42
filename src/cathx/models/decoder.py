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
    """Stride-16 latent + encoder skips -> feature U at ``output_stride``.

    forward(latent (B, L, H/16, W/16), skips [image (B, I, H, W), (B, C2, H/2, W/2),
    (B, C4, H/4, W/4), (B, C8, H/8, W/8)]) -> (B, out_channels, H/s, W/s), s = output_stride.
    Stages: 16 -> 8 (decoder_channels[0]), 8 -> 4 (decoder_channels[1]), then for s < 4
    4 -> 2 with the stem skip and 2 -> 1 with the image, ``fine_channels`` wide.
    """

    def __init__(self, latent_channels: int, skip_channels: tuple[int, int, int, int],
                 decoder_channels: tuple[int, int], output_stride: int = 4, fine_channels: int = 32) -> None:
        super().__init__()
        image_channels, skip2, skip4, skip8 = skip_channels
        width8, width4 = decoder_channels
        self.up8 = UpBlock(latent_channels, skip8, width8)
        self.up4 = UpBlock(width8, skip4, width4)
        self.up2 = UpBlock(width4, skip2, fine_channels) if output_stride <= 2 else None
        self.up1 = UpBlock(fine_channels, image_channels, fine_channels) if output_stride == 1 else None
        self.output_stride = output_stride
        self.out_channels = width4 if output_stride == 4 else fine_channels

    def forward(self, latent: Tensor, skips: list[Tensor]) -> Tensor:
        return self.fine(self.coarse(latent, skips), skips)

    def coarse(self, latent: Tensor, skips: list[Tensor]) -> Tensor:
        """The stride-8 stage: (B, decoder_channels[0], H/8, W/8)."""
        return self.up8(latent, skips[3])

    def fine(self, stride8: Tensor, skips: list[Tensor]) -> Tensor:
        """The stride-8 features -> the output features at ``output_stride``."""
        image, skip2, skip4, _ = skips
        x = self.up4(stride8, skip4)
        if self.up2 is not None:
            x = self.up2(x, skip2)
        if self.up1 is not None:
            x = self.up1(x, image)
        return x
