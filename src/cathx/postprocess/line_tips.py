"""Line masks and tip positions from a chest classifier's segmentation head.

The seg-aided classifier predicts one line mask per device group at a quarter of its input size.
``upscale_mask`` brings a probability map to the radiograph's own size as uint8 (so a 3000 px image
costs 9 MB, not a float copy per group), and ``line_tips`` finds one tip per connected line.

Tip rule (simple and documented): threshold the group's probability map, split it into 8-connected
components, skeletonise each, and take the skeleton's end point (a pixel with exactly one skeleton
neighbour) nearest the image centre. Lines enter from the edges of a chest film (arm, neck, mouth
or nose) and run towards the body's centre, so the end nearest the centre is the tip, the other
the entry. A closed skeleton without end points gives its pixel nearest the centre. The score is
the component's mean probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class LineTip:
    """One line's tip: device group index, position (x, y) in output pixels, score in [0, 1]."""

    group: int
    x: float
    y: float
    score: float


def upscale_mask(probability: np.ndarray, shape: tuple[int, int], threshold: float = 0.5) -> np.ndarray:
    """(h, w) probabilities in [0, 1] -> (H, W) uint8 mask of 0/255 at ``shape`` = (H, W).

    Interpolated on uint8 (bilinear) and thresholded after, so memory stays at one byte a pixel.
    """
    height, width = shape
    small = np.round(np.clip(probability, 0.0, 1.0) * 255).astype(np.uint8)
    large = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    cut = int(round(threshold * 255))
    return np.where(large >= cut, np.uint8(255), np.uint8(0))


def skeleton_endpoints(skeleton: np.ndarray) -> np.ndarray:
    """(K, 2) x, y of the pixels of a boolean skeleton (h, w) with exactly one 8-neighbour."""
    pixels = skeleton.astype(np.uint8)
    neighbours = cv2.filter2D(pixels, cv2.CV_16S, np.ones((3, 3), np.float32), borderType=cv2.BORDER_CONSTANT)
    ys, xs = np.nonzero((pixels == 1) & (neighbours == 2))  # itself plus one neighbour
    return np.stack([xs, ys], axis=1).astype(np.float64)


def line_tips(probabilities: np.ndarray, out_shape: tuple[int, int], threshold: float = 0.5,
              min_length: float = 0.04) -> list[LineTip]:
    """Tips of every line in ``probabilities`` (G, h, w) in [0, 1], in pixels of ``out_shape`` = (H, W).

    Components whose skeleton is shorter than ``min_length`` x max(h, w) pixels are ignored (specks).
    Coordinates map pixel centres: x_out = (x + 0.5) W / w - 0.5, clipped to the image.
    """
    from skimage.morphology import skeletonize

    groups, height, width = probabilities.shape
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    scale = np.array([out_shape[1] / width, out_shape[0] / height])
    tips: list[LineTip] = []
    for group in range(groups):
        binary = (probabilities[group] >= threshold).astype(np.uint8)
        count, labels = cv2.connectedComponents(binary, connectivity=8)
        for component in range(1, count):
            region = labels == component
            skeleton = skeletonize(region)
            if skeleton.sum() < min_length * max(height, width):
                continue
            ends = skeleton_endpoints(skeleton)
            if len(ends) == 0:
                ys, xs = np.nonzero(skeleton)
                ends = np.stack([xs, ys], axis=1).astype(np.float64)
            # nearest the centre in the image's own pixels: on a non-square radiograph the network
            # grid's x and y steps differ, and another end may be nearer there
            tip = ends[int(np.argmin(np.linalg.norm((ends - centre) * scale, axis=1)))]
            x, y = (tip + 0.5) * scale - 0.5
            # an image smaller than the network's grid maps a border cell's centre outside it
            x, y = min(max(x, 0.0), out_shape[1] - 1.0), min(max(y, 0.0), out_shape[0] - 1.0)
            tips.append(LineTip(group, float(x), float(y), float(probabilities[group][region].mean())))
    return tips
