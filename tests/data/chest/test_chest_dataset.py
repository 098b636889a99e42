"""ChestArrayDataset over a cache, and the chest augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cathx.data.chest.cache import ChestCache, pack_line_masks
from cathx.data.chest.dataset import ChestArrayDataset
from cathx.data.transforms import chest_transforms


def _cache(n: int = 3, size: int = 16) -> tuple[ChestCache, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    masks = np.zeros((n, 4, size, size), np.uint8)
    masks[0, 2, 3:5, 4] = 1
    masks[0, 0, 8, :] = 1
    lines = np.stack([pack_line_masks(m) for m in masks])
    labels = np.zeros((n, 11), np.float32)
    labels[1, 7] = 1
    annotated = np.array([True, False, True][:n])
    return ChestCache(Path("mem"), images, lines, labels, annotated, [f"u{i}" for i in range(n)],
                      [f"p{i}" for i in range(n)], size), masks


def test_items_hold_the_cached_study_scaled_and_unpacked():
    cache, masks = _cache()
    dataset = ChestArrayDataset(cache, np.array([1, 0]))
    assert len(dataset) == 2
    item = dataset[1]  # the cache's row 0
    assert item["index"].item() == 0 and item["has_mask"].item() is True
    assert item["image"].shape == (1, 16, 16) and item["image"].dtype == torch.float32
    np.testing.assert_array_equal(item["image"][0].numpy(), cache.images[0].astype(np.float32) / 255)
    np.testing.assert_array_equal(item["mask"].numpy(), masks[0].astype(np.float32))
    other = dataset[0]
    assert other["index"].item() == 1 and other["has_mask"].item() is False
    assert other["labels"].tolist() == [0.0] * 7 + [1.0] + [0.0] * 3
    batch = torch.utils.data.default_collate([dataset[0], dataset[1]])
    assert batch["image"].shape == (2, 1, 16, 16) and batch["mask"].shape == (2, 4, 16, 16)


def test_chest_transforms_keep_uint8_and_move_mask_with_image():
    assert chest_transforms(False) is None
    cache, _ = _cache(size=32)
    dataset = ChestArrayDataset(cache, np.array([0]), chest_transforms(True))
    transform = chest_transforms(True)
    out = transform(image=np.asarray(cache.images[0]), mask=np.asarray(cache.lines[0]))
    assert out["image"].dtype == np.uint8 and out["mask"].dtype == np.uint8  # image_tensor then divides by 255
    assert set(np.unique(out["mask"])) <= set(np.unique(cache.lines[0]))  # nearest: no new bit patterns
    item = dataset[0]
    assert item["image"].shape == (1, 32, 32) and 0.0 <= item["image"].min() and item["image"].max() <= 1.0
    assert set(torch.unique(item["mask"]).tolist()) <= {0.0, 1.0}


def test_chest_intensity_transforms_never_invert_and_switch_off():
    import albumentations as A

    names = lambda compose: {type(t).__name__ for t in compose.transforms} | {
        type(m).__name__ for t in compose.transforms if isinstance(t, A.OneOf) for m in t.transforms}
    assert "InvertImg" not in names(chest_transforms(True, 1.0)) and "ImageCompression" in names(chest_transforms(True, 1.0))
    assert "ImageCompression" not in names(chest_transforms(True, 0.0))
    image = np.full((32, 32), 128, np.uint8)
    for _ in range(20):  # at p = 1 every group fires; the image stays uint8 of its size
        out = chest_transforms(True, 1.0)(image=image, mask=np.zeros((32, 32), np.uint8))["image"]
        assert out.dtype == np.uint8 and out.shape == (32, 32)
