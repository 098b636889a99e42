"""Electrode centre heatmaps: encode points into stride-4 Gaussian targets, decode peaks back.

Coordinates are input pixels, (0, 0) the centre of the top-left pixel (cathx.structures). The
centre of output cell (i, j) at stride s lies at input pixel (s*j + (s-1)/2, s*i + (s-1)/2), the
convention of bilinear resizing with ``align_corners=False``.

Targets keep the exact sub-cell centre: each electrode draws exp(-d^2 / (2 sigma^2)) around its
continuous position (peak below 1 when off the grid), its nearest cell is the positive of the
focal loss, and the size target sits at that cell. Decoding finds local maxima (3x3 max-pool),
keeps the top-K above a score threshold, and refines each peak to sub-cell precision with a
parabola through the log-scores of its neighbours along x and along y (exact for a Gaussian).
Without it, a stride of 4 alone would move a 3-8 px electrode box by up to 2 px and ruin its IoU.

Radius rule: CenterNet's ``gaussian_radius`` of the box measured in cells (min overlap 0.7),
sigma = (2r + 1) / 6 as in CenterNet, but never below ``min_sigma`` cells (default 0.75): the
electrodes here are about one cell wide, for which CenterNet's rule gives a single-cell spike
that carries no sub-cell information.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_STRIDE = 4
DEFAULT_MIN_SIGMA = 0.75
MIN_OVERLAP = 0.7


def gaussian_radius(height: Tensor, width: Tensor, min_overlap: float = MIN_OVERLAP) -> Tensor:
    """CenterNet's radius (same units as the box) such that a box whose corner moves within it
    still overlaps the true box with IoU >= min_overlap; the smallest of its three cases."""
    height = torch.as_tensor(height, dtype=torch.float32)
    width = torch.as_tensor(width, dtype=torch.float32)
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + torch.sqrt(b2**2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return torch.minimum(torch.minimum(r1, r2), r3)


def electrode_sigma(sizes: Tensor, stride: int = DEFAULT_STRIDE, min_sigma: float = DEFAULT_MIN_SIGMA) -> Tensor:
    """Gaussian sigma in cells from box sizes (..., 2) (w, h) in input pixels -> (...)."""
    cells = sizes.float() / stride
    radius = gaussian_radius(cells[..., 1], cells[..., 0]).clamp(min=0)
    return torch.clamp((2 * radius + 1) / 6, min=min_sigma)


def heatmap_stride(image_size: tuple[int, int], heatmap_size: tuple[int, int]) -> int:
    """Stride of a heatmap from its size and the input's: (256, 256), (64, 64) -> 4."""
    stride = image_size[0] // heatmap_size[0]
    if stride < 1 or image_size[0] != stride * heatmap_size[0] or image_size[1] != stride * heatmap_size[1]:
        raise ValueError(f"heatmap {tuple(heatmap_size)} is not an integer stride of the input {tuple(image_size)}")
    return stride


def pixels_to_cells(points: Tensor, stride: int) -> Tensor:
    return (points - (stride - 1) / 2) / stride


def cells_to_pixels(cells: Tensor, stride: int) -> Tensor:
    return cells * stride + (stride - 1) / 2


def encode_targets(
    electrodes: Tensor,
    sizes: Tensor,
    valid: Tensor | None,
    image_size: tuple[int, int],
    stride: int = DEFAULT_STRIDE,
    min_sigma: float = DEFAULT_MIN_SIGMA,
) -> dict[str, Tensor]:
    """Detection targets for a batch.

    electrodes: (B, M, 2) centres (x, y) in input pixels, zero-padded; (M, 2) is taken as B = 1.
    sizes: (B, M, 2) box (w, h) in input pixels.
    valid: (B, M) bool marking real rows (None: all rows are real).
    image_size: (H, W) of the input; the maps are (ceil(H/stride), ceil(W/stride)).
    Returns float32 tensors on the electrodes' device:
        "heatmap": (B, 1, h, w) in [0, 1], max over electrodes of the Gaussians;
        "positive": (B, 1, h, w) bool, the cell nearest to each electrode centre;
        "size": (B, 2, h, w) box (w, h) in pixels at positive cells, 0 elsewhere.
    Centres outside the image are dropped.
    """
    if electrodes.ndim == 2:
        electrodes, sizes = electrodes[None], sizes[None]
        valid = None if valid is None else valid[None]
    electrodes = electrodes.float()
    sizes = sizes.float().to(electrodes.device)
    batch, count = electrodes.shape[:2]
    if valid is None:
        valid = torch.ones(batch, count, dtype=torch.bool, device=electrodes.device)
    valid = valid.to(electrodes.device).bool()
    height, width = math.ceil(image_size[0] / stride), math.ceil(image_size[1] / stride)
    device = electrodes.device

    cells = pixels_to_cells(electrodes, stride)  # (B, M, 2)
    # Points inside the image but beyond the outermost cell centres belong to the border cells.
    inside = (valid & (electrodes[..., 0] >= -0.5) & (electrodes[..., 0] <= image_size[1] - 0.5)
              & (electrodes[..., 1] >= -0.5) & (electrodes[..., 1] <= image_size[0] - 0.5))
    nearest = torch.stack([torch.round(cells[..., 0]).clamp(0, width - 1),
                           torch.round(cells[..., 1]).clamp(0, height - 1)], dim=-1).long()

    b_idx, m_idx = torch.nonzero(inside, as_tuple=True)
    heatmap = _draw_gaussians(batch, height, width, b_idx, cells[b_idx, m_idx], nearest[b_idx, m_idx],
                              electrode_sigma(sizes[b_idx, m_idx], stride, min_sigma))

    positive = torch.zeros(batch, 1, height, width, dtype=torch.bool, device=device)
    size_map = torch.zeros(batch, 2, height, width, dtype=torch.float32, device=device)
    if len(b_idx):
        cx, cy = nearest[b_idx, m_idx, 0], nearest[b_idx, m_idx, 1]
        positive[b_idx, 0, cy, cx] = True
        size_map[b_idx, :, cy, cx] = sizes[b_idx, m_idx]
    return {"heatmap": heatmap.contiguous(), "positive": positive, "size": size_map}


def _draw_gaussians(batch: int, height: int, width: int, image_index: Tensor, cells: Tensor, nearest: Tensor,
                    sigma: Tensor) -> Tensor:
    """Max of the Gaussians of N electrodes, each drawn in a window of +-3 sigma around its
    nearest cell (beyond that its value is below 0.012 and is left at 0).

    image_index (N,), cells (N, 2) continuous (x, y) in cells, nearest (N, 2) long, sigma (N,).
    Returns (batch, 1, height, width); memory grows with N and the window, not with the map.
    """
    flat = torch.zeros(batch * height * width, dtype=torch.float32, device=cells.device)
    if len(cells):
        reach = max(int(math.ceil(3 * float(sigma.max()))), 1)
        offsets = torch.arange(-reach, reach + 1, device=cells.device)
        xs = nearest[:, 0:1] + offsets  # (N, P)
        ys = nearest[:, 1:2] + offsets
        inv = (1.0 / (2 * sigma**2))[:, None]
        gx = torch.exp(-((xs - cells[:, 0:1]) ** 2) * inv)
        gy = torch.exp(-((ys - cells[:, 1:2]) ** 2) * inv)
        values = gy[:, :, None] * gx[:, None, :]  # (N, P, P) rows y, columns x
        inside = ((ys >= 0) & (ys < height))[:, :, None] & ((xs >= 0) & (xs < width))[:, None, :]
        index = (image_index[:, None, None] * height + ys[:, :, None]) * width + xs[:, None, :]
        flat.scatter_reduce_(0, index[inside], values[inside], reduce="amax")
    return flat.reshape(batch, 1, height, width)


def _refine_axis(log_probs: Tensor, b_idx: Tensor, rows: Tensor, cols: Tensor, axis: int) -> Tensor:
    """Sub-cell offset of each peak along one axis (0: y, 1: x), in cells, within +-0.5.

    Fits a parabola through the log-scores of three consecutive cells: the peak and its two
    neighbours, or at the map border the three cells nearest to it (a Gaussian stays exact).
    """
    length = log_probs.shape[1 + axis]
    position = rows if axis == 0 else cols
    if length < 3:
        return torch.zeros(position.shape, dtype=torch.float32, device=position.device)
    middle = position.clamp(1, length - 2)

    def value(index: Tensor) -> Tensor:
        return log_probs[b_idx, index, cols] if axis == 0 else log_probs[b_idx, rows, index]

    before, centre, after = value(middle - 1), value(middle), value(middle + 1)
    curvature = before - 2 * centre + after
    concave = curvature < -1e-6
    vertex = 0.5 * (before - after) / torch.where(concave, curvature, -torch.ones_like(curvature))
    # no concave fit (a one-cell spike, e.g. at the border): the peak cell itself is the best guess;
    # shifting toward the fitted window's middle would move a border peak half a cell inward
    offset = torch.where(concave, (middle - position).float() + vertex, torch.zeros_like(vertex))
    return offset.clamp(-0.5, 0.5)


def decode_peaks(
    heatmap: Tensor,
    size: Tensor | None,
    stride: int = DEFAULT_STRIDE,
    k: int = 64,
    threshold: float = 0.3,
    logits: bool | None = None,
    refine: str = "quadratic",
) -> list[np.ndarray]:
    """Electrode detections per image.

    heatmap: (B, 1, h, w) logits or probabilities; ``logits=None`` treats it as logits when any
        value lies outside [0, 1].
    size: (B, 2, h, w) box (w, h) in pixels, or None (sizes then 0).
    Returns B float32 arrays (K_i, 5): x, y, score, w, h in input pixels, by decreasing score,
    K_i <= k, score >= threshold. ``refine``: "quadratic" (log-parabola) or "none".
    """
    if refine not in ("quadratic", "none"):
        raise ValueError(f"unknown refine {refine!r}; choose from quadratic, none")
    heatmap = heatmap.detach().float()
    if logits is None:
        logits = bool(heatmap.numel()) and bool((heatmap.min() < 0) | (heatmap.max() > 1))
    probs = torch.sigmoid(heatmap) if logits else heatmap
    batch, _, height, width = probs.shape
    # Peaks on the logits when given them (the sigmoid is monotonic, so the same cells): in float32
    # sigmoid rounds to exactly 1.0 above a logit of about 17, and two such neighbours would both
    # count as peaks (the compiled decoder, cathx.postprocess.compiled, suppresses on logits too).
    ranked = heatmap if logits else probs
    is_peak = F.max_pool2d(ranked, 3, stride=1, padding=1) == ranked
    flat = torch.where(is_peak, probs, torch.full_like(probs, -1.0)).reshape(batch, -1)
    top = min(k, flat.shape[1])
    scores, indices = torch.topk(flat, top, dim=1)  # cells that are no peak score -1: never kept
    rows, cols = indices // width, indices % width

    b_idx = torch.arange(batch, device=probs.device)[:, None].expand_as(rows)
    dx = torch.zeros_like(scores)
    dy = torch.zeros_like(scores)
    if refine == "quadratic":
        # log-sigmoid straight from the logits: log(sigmoid(x)) rounds to a flat top above x ~ 12
        log_probs = (F.logsigmoid(heatmap[:, 0]) if logits else torch.log(probs[:, 0])).clamp(min=math.log(1e-12))
        dx = _refine_axis(log_probs, b_idx, rows, cols, axis=1)
        dy = _refine_axis(log_probs, b_idx, rows, cols, axis=0)
    x = cells_to_pixels(cols.float() + dx, stride)
    y = cells_to_pixels(rows.float() + dy, stride)
    if size is not None:
        size = size.detach().float()
        w = size[b_idx, 0, rows, cols]
        h = size[b_idx, 1, rows, cols]
    else:
        w = h = torch.zeros_like(scores)
    detections = torch.stack([x, y, scores, w, h], dim=-1).cpu().numpy().astype(np.float32)
    keep = (scores >= threshold).cpu().numpy()
    return [detections[i][keep[i]] for i in range(batch)]
