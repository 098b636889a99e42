"""Training targets of the catheter-type head: which catheter type runs through each cell.

Two steps, so that the geometric augmentation can move the labels with the image: a full-size
label map drawn from the centrelines (``type_label_map``; it goes through albumentations as the
mask), then its reduction to the head's cells (``cell_type_target``).
"""

from __future__ import annotations

import cv2
import numpy as np

from cathx.structures import TYPE_HEAD_CLASSES

CONFLICT = 255  # label-map value where catheters of different types overlap


def type_label_map(centrelines: list[np.ndarray], types: list[str], shape: tuple[int, int],
                   thickness: int = 3) -> np.ndarray:
    """(H, W) uint8 label map: 0 no catheter, 1 + TYPE_HEAD_CLASSES.index(type) on a catheter's
    centreline drawn ``thickness`` pixels wide, CONFLICT where different types overlap.

    centrelines: (M, 2) polylines (x, y) in pixels; types: one per centreline. Catheters of a type
    the head does not know ("unknown") mark CONFLICT: the head learns nothing from them.
    """
    labels = np.zeros(shape, np.uint8)
    for line, kind in zip(centrelines, types):
        points = np.asarray(line, np.float64).reshape(-1, 2)
        if len(points) < 2:
            continue
        value = TYPE_HEAD_CLASSES.index(kind) + 1 if kind in TYPE_HEAD_CLASSES else CONFLICT
        layer = np.zeros(shape, np.uint8)
        shift = 4  # cv2's fixed-point sub-pixel coordinates
        cv2.polylines(layer, [np.round(points * (1 << shift)).astype(np.int32)[:, None]], False, 1,
                      thickness=thickness, lineType=cv2.LINE_8, shift=shift)
        drawn = layer > 0
        clash = drawn & (labels != 0) & (labels != value)
        labels[drawn & (labels == 0)] = value
        labels[clash] = CONFLICT
    return labels


def cell_type_target(labels: np.ndarray, stride: int = 8) -> np.ndarray:
    """(H, W) label map -> (ceil(H/stride), ceil(W/stride)) int64 class per cell, -1 to ignore.

    A cell takes a class when its pixels show exactly that one type and no conflict; cells with
    no catheter or with several types are ignored (the head is only read on catheters).
    """
    labels = np.asarray(labels, np.uint8)
    height, width = labels.shape
    rows, cols = -(-height // stride), -(-width // stride)
    padded = np.zeros((rows * stride, cols * stride), np.uint8)
    padded[:height, :width] = labels
    blocks = padded.reshape(rows, stride, cols, stride)
    present = np.stack([(blocks == value).any(axis=(1, 3)) for value in range(1, len(TYPE_HEAD_CLASSES) + 1)])
    conflict = (blocks == CONFLICT).any(axis=(1, 3))
    single = (present.sum(axis=0) == 1) & ~conflict
    return np.where(single, present.argmax(axis=0), -1).astype(np.int64)
