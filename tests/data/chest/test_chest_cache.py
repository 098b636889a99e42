"""Memory-mapped preprocessing cache and patient-grouped folds."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.data.chest.cache import cached_dataset, pack_line_masks, unpack_line_masks
from cathx.data.chest.folds import group_folds, split_fold
from cathx.data.chest.ranzcr import RanzcrReader
from cathx.data.chest.synthetic import write_chest_dataset
from cathx.errors import ConfigError


def test_pack_unpack_round_trip():
    masks = (np.random.default_rng(0).random((4, 5, 6)) > 0.5).astype(np.uint8)
    packed = pack_line_masks(masks)
    assert packed.dtype == np.uint8 and packed.max() <= 15
    np.testing.assert_array_equal(unpack_line_masks(packed), masks)


def test_cache_matches_reader_and_is_memory_mapped(tmp_path):
    root = write_chest_dataset(tmp_path / "d", 5, size=64, seed=0, workers=1)
    cache = cached_dataset(root, 32, tmp_path / "cache")
    assert isinstance(cache.images, np.memmap) and cache.images.shape == (5, 32, 32)
    reader = RanzcrReader(root, size=32)
    for i in range(5):
        sample = reader[i]
        assert np.abs(cache.images[i] / 255.0 - sample.image).max() <= 0.5 / 255 + 1e-6
        np.testing.assert_array_equal(unpack_line_masks(cache.lines[i]), sample.meta["line_masks"])
        np.testing.assert_array_equal(cache.labels[i], sample.meta["labels"])
    assert cache.uids == [s.uid for s in reader.studies]
    again = cached_dataset(root, 32, tmp_path / "cache")
    assert again.path == cache.path


def test_a_radiograph_replaced_under_its_own_name_rebuilds_the_cache(tmp_path):
    """The cache was keyed on the CSV files only: a study re-exported under the same file name
    was trained on from its stale cached copy."""
    import os

    import cv2

    root = write_chest_dataset(tmp_path / "d", 3, size=64, seed=0, workers=1)
    before = cached_dataset(root, 32, tmp_path / "cache")
    first = RanzcrReader(root, size=32).studies[0]
    image = next((root / "train").glob(f"{first.uid}.*"))
    cv2.imwrite(str(image), np.full((64, 64), 255, np.uint8))
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    after = cached_dataset(root, 32, tmp_path / "cache")
    assert after.path != before.path
    assert after.images[0].min() == 255 and before.images[0].min() < 255


def test_group_folds_keep_patients_together():
    groups = ["a", "a", "a", "b", "c", "c", "d", "e", "e", "f"]
    folds = group_folds(groups, 3, seed=0)
    for g in set(groups):
        assert len({folds[i] for i, x in enumerate(groups) if x == g}) == 1
    sizes = np.bincount(folds, minlength=3)
    assert sizes.max() - sizes.min() <= 1
    train, val = split_fold(folds, 1)
    assert sorted([*train, *val]) == list(range(10)) and not set(train) & set(val)
    with pytest.raises(ConfigError, match="number of patients"):
        group_folds(["a", "a"], 2)
    with pytest.raises(ConfigError, match="fold"):
        split_fold(folds, 5)


def test_a_dataset_folder_that_cannot_hold_the_cache_uses_the_users_cache(tmp_path, monkeypatch):
    """`cls val` on a read-only dataset raised PermissionError with a traceback; the cache now goes
    to the user's cache folder. (A file in the cache's place stands in for a read-only folder: the
    tests run as root, whom permissions do not stop.)"""
    root = write_chest_dataset(tmp_path / "d", 3, size=48, seed=0, workers=1)
    (root / ".cathx-cache").write_text("in the way")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    cache = cached_dataset(root, 32)
    assert len(cache) == 3
    assert (tmp_path / "user-cache" / "cathx" / "chest").is_dir()
