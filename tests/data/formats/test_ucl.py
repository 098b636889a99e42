"""UCL CatheterSegmentationData: HDF5 files with the release's exact keys, and the folder variant."""

from __future__ import annotations

import pickle

import cv2
import h5py
import numpy as np
import pytest

from cathx.data.formats import detect_format, open_dataset
from cathx.errors import DataError


def _volume(n, size=32, offset=0):
    images = np.zeros((n, size, size), np.uint8)
    labels = np.zeros((n, size, size), np.uint8)
    for index in range(n):
        images[index] = 10 * (index + offset)
        labels[index, 4 + index % 8, :] = 1
    return images, labels


def write_ucl(root, shape_suffix=()):
    for group, key, n in (("Phantom", "test", 3), ("T1T2", "train_img", 4), ("T3-T6", "test", 2)):
        folder = root / group
        folder.mkdir(parents=True)
        images, labels = _volume(n)
        with h5py.File(folder / f"{group}.hdf5", "w") as handle:
            handle.create_dataset(key, data=images.reshape(images.shape + shape_suffix))
        with h5py.File(folder / f"{group}_label.hdf5", "w") as handle:
            handle.create_dataset("label", data=labels.reshape(labels.shape + shape_suffix))
    return root


def test_release_root_and_splits(tmp_path):
    root = write_ucl(tmp_path / "CatheterSegmentationData")
    assert detect_format(root) == "ucl"
    reader = open_dataset(root)
    assert reader.name == "ucl" and len(reader) == 9 and reader.problems == []
    sample = reader[4]  # T1T2 frame 1 (files sorted: Phantom, T1T2, T3-T6)
    sample.validate()
    assert sample.meta["group"] == "T1T2" and sample.meta["frame_index"] == 1
    assert sample.image[0, 0] == pytest.approx(10 / 255)
    assert sample.mask.dtype == np.uint8 and sample.mask[5].all() and sample.mask.sum() == 32
    assert len(open_dataset(root, split="train")) == 4
    assert len(open_dataset(root, split="test")) == 5
    assert len(open_dataset(root, split="Phantom")) == 3
    with pytest.raises(DataError, match="no HDF5 volume for split 'val'; choose from"):
        open_dataset(root, split="val")


def test_single_file_channel_last_and_pickle(tmp_path):
    root = write_ucl(tmp_path / "ucl", shape_suffix=(1,))
    reader = open_dataset(root / "T1T2" / "T1T2.hdf5")
    assert len(reader) == 4 and reader[3].image.shape == (32, 32)
    reader[0]
    clone = pickle.loads(pickle.dumps(reader))  # DataLoader workers get the reader without open handles
    np.testing.assert_array_equal(clone[2].mask, reader[2].mask)


def test_missing_key_and_missing_label(tmp_path):
    path = tmp_path / "Other.hdf5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("images", data=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(
        DataError, match=r"Other\.hdf5: no image dataset 'train_img' or 'test' \(keys found: images\)"
    ):
        open_dataset(path)
    good = tmp_path / "Good.hdf5"
    with h5py.File(good, "w") as handle:
        handle.create_dataset("test", data=np.zeros((2, 8, 8), np.uint8))
    with h5py.File(tmp_path / "Good_label.hdf5", "w") as handle:
        handle.create_dataset("labels_wrong", data=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DataError, match=r"Good_label\.hdf5: no dataset 'label' \(keys found: labels_wrong\)"):
        open_dataset(good)
    (tmp_path / "Good_label.hdf5").unlink()
    reader = open_dataset(tmp_path)
    assert len(reader) == 2 and reader[0].mask is None
    assert any("Other.hdf5: no image dataset" in p and "(skipped)" in p for p in reader.problems)
    assert any("Good.hdf5: no label file Good_label.hdf5" in p for p in reader.problems)


def test_not_hdf5_and_count_mismatch(tmp_path):
    (tmp_path / "Bad.hdf5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError, match=r"Bad\.hdf5: not a readable HDF5 file"):
        open_dataset(tmp_path / "Bad.hdf5")
    with h5py.File(tmp_path / "M.h5", "w") as handle:
        handle.create_dataset("test", data=np.zeros((3, 8, 8), np.uint8))
    with h5py.File(tmp_path / "M_label.h5", "w") as handle:
        handle.create_dataset("label", data=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DataError, match=r"M_label\.h5: 2 labels for 3 images in M\.h5"):
        open_dataset(tmp_path / "M.h5")


def test_extracted_folder_variant(tmp_path):
    for group in ("Phantom", "T1T2"):
        (tmp_path / group / "images").mkdir(parents=True)
        (tmp_path / group / "masks").mkdir()
        for index in range(2):
            cv2.imwrite(str(tmp_path / group / "images" / f"{index}.png"), np.full((16, 16), 90, np.uint8))
            cv2.imwrite(str(tmp_path / group / "masks" / f"{index}.png"), np.eye(16, dtype=np.uint8) * 255)
    assert detect_format(tmp_path) == "ucl"
    reader = open_dataset(tmp_path)
    assert reader.name == "ucl" and len(reader) == 4
    assert reader[0].mask.sum() == 16
    assert len(open_dataset(tmp_path, split="T1T2")) == 2


def test_non_numeric_and_damaged_volumes_name_the_file(tmp_path):
    """Cases found by tests/robustness/test_fuzz_readers.py (tracebacks before)."""
    path = tmp_path / "S.hdf5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("test", data=np.array([[[b"ab"]]]))
    with pytest.raises(DataError, match=r"S\.hdf5: dataset 'test' holds \|S2 values; expected numbers$"):
        open_dataset(path)
    damaged = tmp_path / "D.hdf5"
    with h5py.File(damaged, "w") as handle:
        handle.create_dataset("test", data=np.zeros((2, 8, 8), np.uint8))
    data = bytearray(damaged.read_bytes())
    start = data.index(b"HEAP")
    data[start + 40:start + 200] = bytes(160)  # wipe the link names and object addresses
    damaged.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"D\.hdf5: "):
        reader = open_dataset(damaged)
        list(reader.iter_frames())


@pytest.mark.parametrize("kind", ["external-storage", "external-link", "virtual"])
def test_datasets_stored_in_other_files_are_refused(tmp_path, kind):
    """HDF5 can point a dataset at any file (external raw storage, links, virtual datasets): refused,
    never read as pixels."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(range(256)) * 4)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle.create_dataset("test", data=np.zeros((2, 8, 8), np.uint8))
    path = tmp_path / "V.hdf5"
    with h5py.File(path, "w") as handle:
        if kind == "external-storage":
            handle.create_dataset("test", shape=(2, 8, 8), dtype="uint8", external=[(str(secret), 0, 128)])
        elif kind == "external-link":
            handle["test"] = h5py.ExternalLink(str(other), "test")
        else:
            layout = h5py.VirtualLayout(shape=(2, 8, 8), dtype="uint8")
            layout[:] = h5py.VirtualSource(str(other), "test", shape=(2, 8, 8))
            handle.create_virtual_dataset("test", layout)
    expected = r"keeps its data in other files" if kind in ("external-storage", "virtual") else r"is an external link"
    with pytest.raises(DataError, match=rf"V\.hdf5: .*{expected}"):
        open_dataset(path)


def test_labels_keep_their_own_layout_beside_channel_first_images(tmp_path):
    """A (N, 1, H, W) image volume (a PyTorch export) with (N, H, W) labels: each volume is read
    in its own layout. With the image's layout the square label frames came out transposed."""
    images, labels = _volume(2)  # label rows 4 and 5 set: a horizontal line
    with h5py.File(tmp_path / "T1T2.hdf5", "w") as handle:
        handle.create_dataset("train_img", data=images[:, None])
    with h5py.File(tmp_path / "T1T2_label.hdf5", "w") as handle:
        handle.create_dataset("label", data=labels)
    sample = open_dataset(tmp_path / "T1T2.hdf5")[1]
    assert sample.mask[5].all() and sample.mask.sum() == 32
