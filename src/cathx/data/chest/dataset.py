"""Torch dataset over a chest preprocessing cache (``cathx.data.chest.cache.ChestCache``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from cathx.data.chest.cache import ChestCache, unpack_line_masks
from cathx.data.datasets import image_tensor


class ChestArrayDataset(Dataset):
    """Studies ``indices`` of a ChestCache as tensors.

    Item (a dict, default-collatable): image (1, S, S) float32 in [0, 1] (``image_tensor``, the
    fluoroscopy task's conversion); labels (11,) float32 in LABELS order; mask (G, S, S) float32
    {0, 1}, one channel per device group; has_mask () bool; index () int64 (row of the cache).
    ``transform``: an albumentations Compose over (image, packed line mask), e.g.
    ``cathx.data.transforms.chest_transforms(train=True)``, or None.
    """

    def __init__(self, cache: ChestCache, indices: np.ndarray, transform: Any | None = None) -> None:
        self.cache, self.indices, self.transform = cache, np.asarray(indices), transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> dict[str, Tensor]:
        index = int(self.indices[item])
        image = np.asarray(self.cache.images[index])
        packed = np.asarray(self.cache.lines[index])
        if self.transform is not None:
            result = self.transform(image=image, mask=packed)
            image, packed = result["image"], result["mask"]
        return {
            "image": image_tensor(image),
            "labels": torch.from_numpy(np.array(self.cache.labels[index], np.float32)),
            "mask": torch.from_numpy(unpack_line_masks(packed).astype(np.float32)),
            "has_mask": torch.tensor(bool(self.cache.annotated[index])),
            "index": torch.tensor(index, dtype=torch.int64),
        }
