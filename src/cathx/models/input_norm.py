"""Local contrast normalisation: the first thing a CathMTL network may do to its input.

A display chain maps detector signal to grey values through curves no two sites share (gamma,
S-shaped LUTs, window/level, inversion). Any smooth monotonic curve is close to linear over a small
neighbourhood, so subtracting the local mean and dividing by the local standard deviation leaves a
catheter's contrast against its surroundings nearly unchanged by it, as well as by slowly varying
dose and scatter. Only saturated regions (where the curve is flat) lose information, as they do
for a radiologist.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Standard deviation floor, in unit grey: below it (flat collimator shadow, burned-out lung) the
# image is divided by this instead, so that noise in a flat region is not blown up to unit size.
STD_FLOOR = 0.02
# The local statistics are smooth, so they are taken on a grid this many times coarser and
# interpolated back: a 31-px box costs a 7-cell box on a 64 x 64 grid (about 20x less work).
STATS_STRIDE = 4


def box_mean(image: Tensor, window: int) -> Tensor:
    """(B, C, H, W) -> (B, C, H, W) mean over the window x window box around each pixel; near the
    border the box is cut to the image (only pixels inside are averaged). Separable: two 1-D pools."""
    half = window // 2
    rows = F.avg_pool2d(image, (window, 1), stride=1, padding=(half, 0), count_include_pad=False)
    return F.avg_pool2d(rows, (1, window), stride=1, padding=(0, half), count_include_pad=False)


def local_contrast_norm(image: Tensor, window: int, floor: float = STD_FLOOR) -> Tensor:
    """(B, C, H, W) -> (B, C, H, W): (image - local mean) / sqrt(local variance + floor^2), local over
    about ``window`` x ``window`` pixels. H and W must be multiples of STATS_STRIDE: the mean and
    variance are box statistics over ``window // STATS_STRIDE`` (made odd) cells of the image
    averaged STATS_STRIDE x STATS_STRIDE, interpolated bilinearly back to full size. Computed in
    float32 (a variance as E[x^2] - E[x]^2 in bfloat16 would cancel to noise) and returned in the
    input's dtype."""
    values = image.float()
    cells = max(1, window // STATS_STRIDE) | 1
    small = F.avg_pool2d(torch.cat([values, values * values], dim=1), STATS_STRIDE)
    small = box_mean(small, cells) if cells > 1 else small
    mean, square = F.interpolate(small, size=values.shape[-2:], mode="bilinear", align_corners=False).chunk(2, dim=1)
    variance = (square - mean * mean).clamp_min(0.0)
    return ((values - mean) * torch.rsqrt(variance + floor * floor)).to(image.dtype)


class LocalContrastNorm(nn.Module):
    """``local_contrast_norm`` as a module (no parameters, so checkpoints are unchanged by it)."""

    def __init__(self, window: int = 31, floor: float = STD_FLOOR) -> None:
        super().__init__()
        if window < 3 or window % 2 == 0:
            raise ValueError(f"window must be odd and >= 3, got {window}")
        self.window, self.floor = window, floor

    def forward(self, image: Tensor) -> Tensor:
        return local_contrast_norm(image, self.window, self.floor)

    def extra_repr(self) -> str:
        return f"window={self.window}, floor={self.floor}"
