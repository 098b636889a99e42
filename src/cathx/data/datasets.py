"""Torch datasets over any reader (a ``Sequence[Sample]``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from cathx.data.formats.imageio import to_unit_float
from cathx.structures import Sample

logger = logging.getLogger(__name__)


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """Pixels -> the network's input: (..., H, W) -> (..., 1, H, W) float32 tensor in [0, 1].

    The one image-to-tensor step of the fluoroscopy and the chest tasks. Integer pixels are scaled
    by ``to_unit_float``'s rule (uint8 / 255, uint16 / 65535, ...); float pixels are taken as
    already in [0, 1] (a reader's output, possibly nudged past the range by augmentation) and clipped.
    """
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.floating):
        unit = np.clip(image.astype(np.float32, copy=False), 0.0, 1.0)
    else:
        unit = to_unit_float(image)
    return torch.from_numpy(np.ascontiguousarray(unit)).unsqueeze(-3)


class SampleDataset(Dataset):
    """Tensors for training and evaluation from a reader of ``Sample``.

    Item (a dict, default-collatable when all samples end up the same size):
      image (1, H, W) float32 in [0, 1]; mask (1, H, W) float32 {0, 1}; has_mask () bool;
      electrodes (max_electrodes, 2) float32 pixels (x, y), zero-padded; electrode_sizes
      (max_electrodes, 2) box width, height in pixels; electrode_valid (max_electrodes,) bool;
      has_electrodes () bool; index () int64.
    ``transform``: an albumentations Compose from ``cathx.data.transforms.build_transforms``
    (keypoints in "xys" format with a ``keypoint_index`` label field), or None.
    """

    def __init__(
        self, reader: Sequence[Sample], transform: Any | None = None, max_electrodes: int = 64
    ) -> None:
        self.reader = reader
        self.transform = transform
        self.max_electrodes = int(max_electrodes)
        self._warned = False

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = self.reader[index]
        image = np.asarray(sample.image, np.float32)
        has_mask = sample.mask is not None
        mask = (sample.mask > 0).astype(np.uint8) if has_mask else np.zeros(image.shape, np.uint8)
        has_electrodes = sample.electrodes is not None
        points = np.asarray(sample.electrodes if has_electrodes else np.zeros((0, 2)), np.float32).reshape(
            -1, 2
        )
        sizes = sample.electrode_sizes
        sizes = (
            np.asarray(sizes, np.float32).reshape(-1, 2)
            if sizes is not None and len(sizes) == len(points)
            else np.zeros((len(points), 2), np.float32)
        )

        if self.transform is not None:
            side = np.maximum(sizes.max(axis=1), 1e-3) if len(sizes) else np.zeros(0, np.float32)
            keypoints = (
                np.concatenate([points, side[:, None]], axis=1)
                if len(points)
                else np.zeros((0, 3), np.float32)
            )
            out = self.transform(
                image=image[..., None], mask=mask, keypoints=keypoints, keypoint_index=np.arange(len(points))
            )
            image = np.asarray(out["image"], np.float32).reshape(out["image"].shape[:2])
            mask = np.asarray(out["mask"], np.uint8)
            kept = np.asarray(out["keypoint_index"], np.int64)
            moved = np.asarray(out["keypoints"], np.float32).reshape(-1, 3)
            if len(kept):
                factor = moved[:, 2] / side[kept]
                sizes = sizes[kept] * factor[:, None]
                points = moved[:, :2]
            else:
                sizes = np.zeros((0, 2), np.float32)
                points = np.zeros((0, 2), np.float32)

        count = len(points)
        if count > self.max_electrodes:
            if not self._warned:
                logger.warning(
                    "sample %d has %d electrodes; keeping the first %d", index, count, self.max_electrodes
                )
                self._warned = True
            count = self.max_electrodes
        electrodes = np.zeros((self.max_electrodes, 2), np.float32)
        electrode_sizes = np.zeros((self.max_electrodes, 2), np.float32)
        valid = np.zeros(self.max_electrodes, bool)
        electrodes[:count] = points[:count]
        electrode_sizes[:count] = sizes[:count]
        valid[:count] = True
        return {
            "image": image_tensor(image),
            "mask": torch.from_numpy(mask.astype(np.float32))[None],
            "has_mask": torch.tensor(has_mask),
            "electrodes": torch.from_numpy(electrodes),
            "electrode_sizes": torch.from_numpy(electrode_sizes),
            "electrode_valid": torch.from_numpy(valid),
            "has_electrodes": torch.tensor(has_electrodes),
            "index": torch.tensor(index, dtype=torch.int64),
        }


class CatheterTypeDataset(Dataset):
    """Tensors for fitting the catheter-type head: the frame and its per-cell type target.

    Item: image (1, H, W) float32 in [0, 1]; type (H/stride, W/stride) int64 class index into
    TYPE_HEAD_CLASSES, -1 where the cell holds no catheter or several types (cathx.data.type_targets).
    ``transform``: a Compose from ``build_transforms`` (the label map travels as its mask), or None.
    """

    def __init__(self, reader: Sequence[Sample], transform: Any | None = None, stride: int = 8) -> None:
        self.reader = reader
        self.transform = transform
        self.stride = int(stride)

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from cathx.data.type_targets import cell_type_target, type_label_map

        sample = self.reader[index]
        image = np.asarray(sample.image, np.float32)
        labels = type_label_map(sample.centrelines, sample.catheter_types, image.shape[:2])
        if self.transform is not None:
            out = self.transform(image=image[..., None], mask=labels, keypoints=np.zeros((0, 3), np.float32),
                                 keypoint_index=np.zeros(0, np.int64))
            image = np.asarray(out["image"], np.float32).reshape(out["image"].shape[:2])
            labels = np.asarray(out["mask"], np.uint8)
        return {"image": image_tensor(image), "type": torch.from_numpy(cell_type_target(labels, self.stride))}
