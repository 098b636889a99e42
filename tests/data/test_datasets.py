"""SampleDataset: tensor shapes, padding, missing labels, default collate."""

from __future__ import annotations

import numpy as np
import torch

from cathx.data.datasets import SampleDataset
from cathx.data.synthetic import SyntheticReader
from cathx.structures import Sample


def test_items_have_the_agreed_shapes_and_collate():
    dataset = SampleDataset(SyntheticReader(3, size=64, seed=0), max_electrodes=48)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(3)])
    assert batch["image"].shape == (3, 1, 64, 64) and batch["image"].dtype == torch.float32
    assert batch["mask"].shape == (3, 1, 64, 64)
    assert set(torch.unique(batch["mask"]).tolist()) <= {0.0, 1.0}
    assert batch["electrodes"].shape == (3, 48, 2) and batch["electrode_sizes"].shape == (3, 48, 2)
    assert batch["electrode_valid"].shape == (3, 48) and batch["electrode_valid"].dtype == torch.bool
    assert batch["has_mask"].all() and batch["has_electrodes"].all()
    assert batch["index"].tolist() == [0, 1, 2]
    sample = SyntheticReader(3, size=64, seed=0)[1]
    count = len(sample.electrodes)
    assert int(batch["electrode_valid"][1].sum()) == count
    np.testing.assert_allclose(batch["electrodes"][1, :count].numpy(), sample.electrodes)
    assert not batch["electrodes"][1, count:].any()


def test_missing_labels_give_flags_and_zeros():
    image = np.full((64, 64), 0.5, np.float32)
    item = SampleDataset([Sample(image=image)])[0]
    assert not item["has_mask"] and not item["has_electrodes"]
    assert not item["mask"].any() and not item["electrode_valid"].any()


def test_extra_electrodes_are_truncated():
    points = np.stack([np.arange(10, dtype=np.float32), np.arange(10, dtype=np.float32)], axis=1)
    sample = Sample(
        image=np.zeros((32, 32), np.float32),
        electrodes=points,
        electrode_sizes=np.full((10, 2), 3.0, np.float32),
    )
    item = SampleDataset([sample], max_electrodes=4)[0]
    assert int(item["electrode_valid"].sum()) == 4
    np.testing.assert_allclose(item["electrodes"].numpy(), points[:4])


def test_image_tensor_scales_integers_clips_floats_and_adds_the_channel_axis():
    from cathx.data.datasets import image_tensor

    grey = image_tensor(np.array([[0, 51, 255]], np.uint8))
    assert grey.shape == (1, 1, 3) and grey.dtype == torch.float32
    np.testing.assert_allclose(grey.flatten().numpy(), [0.0, 0.2, 1.0], atol=1e-7)  # / 255, not / 256
    assert image_tensor(np.array([[65535, 0]], np.uint16)).flatten().tolist() == [1.0, 0.0]
    # floats are already unit range: clipped, never divided by 255 because one pixel is over 1
    assert image_tensor(np.array([[-0.1, 0.5, 1.2]], np.float32)).flatten().tolist() == [0.0, 0.5, 1.0]
    assert image_tensor(np.zeros((5, 4, 3), np.uint8)).shape == (5, 1, 4, 3)  # a batch -> (N, 1, H, W)
